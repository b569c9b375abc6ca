/** Resource records as plain data, the input of the response builder. Names are dotted, no trailing dot needed. */
export type Record_ =
  | { type: 'A' | 'AAAA'; name: string; ttl: number; address: string }
  | { type: 'NS' | 'CNAME' | 'PTR'; name: string; ttl: number; target: string }
  | { type: 'SRV'; name: string; ttl: number; priority: number; weight: number; port: number; target: string }
  | {
      type: 'SOA';
      name: string;
      ttl: number;
      mname: string;
      rname: string;
      serial: number;
      refresh: number;
      retry: number;
      expire: number;
      minimum: number;
    }
  | { type: 'TXT'; name: string; ttl: number; texts: string[] };

export type { Record_ as ResourceRecord };
