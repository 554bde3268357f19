export function writable(dir: string): boolean;
