/** Small shared pieces: tables, action buttons that show the API's error, a confirmation dialog. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

export function Table(props: { head: string[]; rows: ComponentChildren[][]; empty?: string; id?: string }) {
  return (
    <table id={props.id}>
      <thead>
        <tr>{props.head.map((h) => <th key={h}>{h}</th>)}</tr>
      </thead>
      <tbody>
        {props.rows.length ? props.rows.map((r, i) => <tr key={i}>{r.map((c, j) => <td key={j}>{c}</td>)}</tr>) : (
          <tr>
            <td colSpan={props.head.length} class="empty">{props.empty ?? 'nothing yet'}</td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

/** Red text with an API error (401/403/422 messages as the API wrote them). */
export function ErrorLine(props: { error?: string }) {
  return props.error ? <p class="error" role="alert">{props.error}</p> : null;
}

/** A button that runs an async action, disables itself meanwhile and shows the error it threw. */
export function Action(props: { label: string; run: () => Promise<unknown>; confirm?: string; kind?: 'danger'; testid?: string }) {
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string>();
  const [asking, setAsking] = useState(false);
  const go = async () => {
    setAsking(false);
    setBusy(true);
    setErr(undefined);
    try {
      await props.run();
    } catch (e) {
      setErr((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="action">
      <button class={props.kind} disabled={busy} data-testid={props.testid} onClick={() => (props.confirm ? setAsking(true) : void go())}>
        {props.label}
      </button>
      {asking && (
        <span class="confirm" role="dialog">
          {props.confirm} <button class="danger" onClick={() => void go()}>Yes, {props.label.toLowerCase()}</button>
          <button onClick={() => setAsking(false)}>Cancel</button>
        </span>
      )}
      {err && <span class="error" role="alert">{err}</span>}
    </span>
  );
}

export function Section(props: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section id={props.id}>
      <h2>{props.title}</h2>
      {props.children}
    </section>
  );
}

export const short = (id: string, n = 12) => (id.length > n + 3 ? `${id.slice(0, n)}…` : id);
