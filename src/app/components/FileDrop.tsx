// A drop zone with a real file input inside it (so it can be chosen, dropped, or driven by a
// screen reader or a test through the input's label). Dropped folders are walked recursively.
import { useId, useState, type ReactNode } from 'react';

interface Props {
  /** The input's accessible name, e.g. "Dataset". */
  label: string;
  accept?: string;
  multiple?: boolean;
  /** The input chooses a folder (webkitdirectory). */
  directory?: boolean;
  disabled?: boolean;
  onFiles: (files: File[]) => void;
  title: ReactNode;
  hint?: ReactNode;
  /** Extra controls under the zone (another input, a sample button). */
  children?: ReactNode;
  compact?: boolean;
}

type Entry = FileSystemEntry;

function readEntries(dir: FileSystemDirectoryEntry): Promise<Entry[]> {
  const reader = dir.createReader();
  const all: Entry[] = [];
  return new Promise((resolve, reject) => {
    const next = () =>
      reader.readEntries((batch) => {
        if (batch.length === 0) resolve(all);
        else {
          all.push(...batch);
          next();
        }
      }, reject);
    next();
  });
}

async function walk(entry: Entry, path: string, out: File[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    // Keep the folder path the same way an <input webkitdirectory> reports it.
    Object.defineProperty(file, 'webkitRelativePath', { value: `${path}${file.name}`, configurable: true });
    out.push(file);
  } else if (entry.isDirectory) {
    for (const child of await readEntries(entry as FileSystemDirectoryEntry)) await walk(child, `${path}${entry.name}/`, out);
  }
}

export async function filesFromDrop(dt: DataTransfer): Promise<File[]> {
  const entries = [...dt.items].map((i) => (i.kind === 'file' ? i.webkitGetAsEntry?.() : null)).filter((e): e is Entry => !!e);
  if (entries.length === 0) return [...dt.files];
  const out: File[] = [];
  for (const e of entries) await walk(e, '', out);
  return out;
}

export function FileDrop(props: Props) {
  const id = useId();
  const [over, setOver] = useState(false);
  const dirAttrs = props.directory ? ({ webkitdirectory: '', directory: '' } as Record<string, string>) : {};
  return (
    <div
      className={`drop ${over ? 'over' : ''} ${props.disabled ? 'disabled' : ''} ${props.compact ? 'compact' : ''}`}
      onDragOver={(e) => {
        if (props.disabled) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = 'copy';
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        if (props.disabled) return;
        void filesFromDrop(e.dataTransfer).then((files) => files.length && props.onFiles(files));
      }}
    >
      <div className="drop-title">{props.title}</div>
      {props.hint && <div className="drop-hint">{props.hint}</div>}
      <div className="drop-actions">
        <label htmlFor={id} className={`button secondary ${props.disabled ? 'disabled' : ''}`}>
          <span>{props.directory ? 'Choose a folder…' : 'Choose a file…'}</span>
        </label>
        <input
          id={id}
          className="visually-hidden-input"
          type="file"
          aria-label={props.label}
          accept={props.accept}
          multiple={props.multiple}
          disabled={props.disabled}
          {...dirAttrs}
          onChange={(e) => {
            const files = [...(e.currentTarget.files ?? [])];
            e.currentTarget.value = '';
            if (files.length) props.onFiles(files);
          }}
        />
        {props.children}
      </div>
    </div>
  );
}
