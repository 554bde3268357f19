/** Types for scripts/bench/profile.mjs (a plain ESM script run by Node). */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number; scriptId: string }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}
export function startProfiler(port: number, worker: string, intervalUs?: number): Promise<{ stop(): Promise<CpuProfile> }>;
export function profileTable(profile: CpuProfile, calls: number, top?: number): string[];
