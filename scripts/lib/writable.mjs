import { accessSync, constants } from 'node:fs';

/** True when this process may write into `dir` (e.g. /dev/shm, where the bench and load --ratio keep local state in RAM). */
export function writable(dir) {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
