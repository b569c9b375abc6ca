/** The services the programming bench uses: VIPs `<first>.x.y.z:80`, three backends each. */
import type { Service } from '../../l4lb/driver.js';
import { normalize } from '../../l4lb/services.js';

/** `n` services, canonical and sorted by key as the reconciler hands them to a driver. */
export function makeServices(n: number, first = 11): Service[] {
  return normalize(
    Array.from({ length: n }, (_, i) => ({
      key: `tcp/${first}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:80`,
      vip: `${first}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      port: 80,
      protocol: 'tcp' as const,
      backends: [0, 1, 2].map((b) => ({ ip: `10.${b}.${(i >> 8) & 255}.${i & 255}`, port: 8080, weight: 1 })),
    })),
  );
}
