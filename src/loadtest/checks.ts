export interface Check {
  name: string;
  target: string;
  actual: string;
  passed: boolean;
}

export function atLeast(name: string, actual: number | null, min: number, unit = ''): Check {
  return { name, target: `>= ${fmt(min)}${unit}`, actual: actual === null ? 'n/a' : `${fmt(actual)}${unit}`, passed: actual !== null && actual >= min };
}

export function atMost(name: string, actual: number | null, max: number, unit = ''): Check {
  return { name, target: `<= ${fmt(max)}${unit}`, actual: actual === null ? 'n/a' : `${fmt(actual)}${unit}`, passed: actual !== null && actual <= max };
}

export function below(name: string, actual: number | null, max: number, unit = ''): Check {
  return { name, target: `< ${fmt(max)}${unit}`, actual: actual === null ? 'n/a' : `${fmt(actual)}${unit}`, passed: actual !== null && actual < max };
}

export function equals(name: string, actual: number, expected: number): Check {
  return { name, target: `= ${fmt(expected)}`, actual: fmt(actual), passed: actual === expected };
}

function fmt(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toLocaleString('en-US', { maximumFractionDigits: 1 });
}
