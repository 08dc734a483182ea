// One progress stream for a hub load, fed by transformers.js's progress_callback (the JSON files)
// and by our weights download. Sizes come from a probe before any download starts (the cache
// entry's size, or the HEAD's content-length), so totalBytes is known from the first event and
// a progress bar only moves forward. A file whose real size differs from its probe (a server that
// compresses, or sent no content-length) has its total corrected when it completes.
import type { ProgressInfo } from '@huggingface/transformers';
import type { DownloadProgress } from './source-types';

interface FileState {
  loaded: number;
  total: number;
  done: boolean;
}

export class HubProgress {
  private readonly files = new Map<string, FileState>();

  constructor(
    sizes: Iterable<[file: string, size: number | null]>,
    private readonly emit?: (p: DownloadProgress) => void,
  ) {
    for (const [file, size] of sizes) this.files.set(file, { loaded: 0, total: size ?? 0, done: false });
  }

  update(file: string, loaded: number, total?: number): void {
    const f = this.state(file);
    if (f.done || loaded < f.loaded) return;
    const newTotal = Math.max(f.total, total ?? 0, loaded);
    if (loaded === f.loaded && newTotal === f.total) return;
    f.loaded = loaded;
    f.total = newTotal;
    this.send(file, f);
  }

  /** `file` is complete; `size` is its real byte count (defaults to what was seen). */
  finish(file: string, size?: number): void {
    const f = this.state(file);
    if (f.done) return;
    f.loaded = f.total = size ?? f.loaded;
    f.done = true;
    this.send(file, f);
  }

  /** For transformers.js's `progress_callback`. */
  readonly fromTransformers = (info: ProgressInfo): void => {
    if (info.status === 'progress') this.update(info.file, info.loaded, info.total);
    else if (info.status === 'done') this.finish(info.file);
  };

  private state(file: string): FileState {
    let f = this.files.get(file);
    if (!f) this.files.set(file, (f = { loaded: 0, total: 0, done: false }));
    return f;
  }

  private send(file: string, f: FileState): void {
    if (!this.emit) return;
    let totalLoaded = 0;
    let totalBytes = 0;
    for (const s of this.files.values()) {
      totalLoaded += s.loaded;
      totalBytes += s.total;
    }
    this.emit({ file, loaded: f.loaded, total: f.total, totalLoaded, totalBytes, done: f.done });
  }
}
