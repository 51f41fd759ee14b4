// Kubernetes resource quantities (apimachinery/pkg/api/resource/quantity.go): parsing, comparison and
// the canonical form the API server stores ("1.5" -> "1500m", "1024Mi" -> "1Gi", "1000" -> "1k").
// Values are kept as a BigInt count of nano-units, which is the finest precision Kubernetes keeps
// (smaller values round up to 1n, as Quantity does).

export type QuantityFormat = "DecimalSI" | "BinarySI" | "DecimalExponent";

export interface Quantity {
  nano: bigint; // value * 1e9, rounded up
  format: QuantityFormat;
}

/** The exact text a real server puts in its 400 when a quantity doesn't parse. */
export const QUANTITY_FORMAT_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

const QUANTITY_RE = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;
const BINARY: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const NANO = 1_000_000_000n;

const pow10 = (e: number) => 10n ** BigInt(e);

/** Parses a quantity as JSON carries it (string or number); undefined if it is not one. */
export function parseQuantity(v: unknown): Quantity | undefined {
  const s = typeof v === "number" && Number.isFinite(v) ? String(v) : typeof v === "string" ? v.trim() : undefined;
  if (s === undefined) return undefined;
  const m = QUANTITY_RE.exec(s);
  if (!m) return undefined;
  const [, num, suffix] = m;
  const n = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(num);
  if (!n || (n[2] === "" && (n[3] ?? "") === "")) return undefined;
  const sign = n[1] === "-" ? -1n : 1n;
  const frac = n[3] ?? "";
  // digits as an integer, scaled down by 10^frac.length
  const digits = BigInt((n[2] || "0") + frac);
  let format: QuantityFormat;
  let scaled: { num: bigint; den: bigint };
  if (suffix in BINARY) {
    format = "BinarySI";
    scaled = { num: digits * 1024n ** BigInt(BINARY[suffix]), den: pow10(frac.length) };
  } else if (suffix in DECIMAL) {
    format = "DecimalSI";
    const e = DECIMAL[suffix] - frac.length;
    scaled = e >= 0 ? { num: digits * pow10(e), den: 1n } : { num: digits, den: pow10(-e) };
  } else if (/^[eE][-+]?\d+$/.test(suffix)) {
    format = "DecimalExponent";
    const e = Number(suffix.slice(1)) - frac.length;
    if (Math.abs(e) > 1000) return undefined;
    scaled = e >= 0 ? { num: digits * pow10(e), den: 1n } : { num: digits, den: pow10(-e) };
  } else return undefined;
  // to nano-units, rounding away from zero like Quantity's rounding to the nearest representable value
  const whole = scaled.num * NANO;
  let nano = whole / scaled.den;
  if (whole % scaled.den !== 0n) nano += 1n;
  return { nano: sign * nano, format };
}

/** Quantity.String(): the canonical text the API server stores and returns. */
export function formatQuantity(q: Quantity): string {
  const neg = q.nano < 0n;
  const abs = neg ? -q.nano : q.nano;
  const sign = neg ? "-" : "";
  if (abs === 0n) return "0";
  if (q.format === "BinarySI" && abs % NANO === 0n && abs >= 1024n * NANO) {
    let units = abs / NANO;
    let k = 0;
    while (k < 6 && units % 1024n === 0n) {
      units /= 1024n;
      k++;
    }
    return `${sign}${units}${["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][k]}`;
  }
  // Decimal: the largest exponent (a multiple of 3, from -9) that keeps the mantissa an integer.
  let mantissa = abs;
  let exp = -9;
  while (exp < 18 && mantissa % 1000n === 0n) {
    mantissa /= 1000n;
    exp += 3;
  }
  if (q.format === "DecimalExponent") return `${sign}${mantissa}${exp === 0 ? "" : `e${exp}`}`;
  const suffix = Object.keys(DECIMAL).find((k) => DECIMAL[k] === exp)!;
  return `${sign}${mantissa}${suffix}`;
}

export const compareQuantity = (a: Quantity, b: Quantity) => (a.nano < b.nano ? -1 : a.nano > b.nano ? 1 : 0);

/** Whole bytes (rounded up) for a memory quantity. */
export const quantityBytes = (q: Quantity): number => Number((q.nano + NANO - 1n) / NANO);
