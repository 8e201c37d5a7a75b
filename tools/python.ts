// Where the PyTorch reference runs: Debian's own python3 (python3-torch), not the pyenv python3 that
// comes first on PATH. Shared by tests that call PyTorch when it is present and by the benchmarks.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const DEBIAN_PYTHON = '/usr/bin/python3';

/** Whether Debian's python3 can import torch (optional: CI needs no Python). */
export function hasTorch(): boolean {
  if (!existsSync(DEBIAN_PYTHON)) return false;
  try {
    execFileSync(DEBIAN_PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
