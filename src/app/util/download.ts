// Saving bytes as a file the user downloads.
export function download(name: string, data: Uint8Array | string, type = 'application/octet-stream'): void {
  const blob = new Blob([data as BlobPart], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function safeName(s: string): string {
  return s.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'model';
}

/** A file name from its parts: the model's last path segment, a data file without its extension… */
export function fileStem(...parts: string[]): string {
  return parts
    .map((p) => safeName(p.split('/').pop()!.replace(/\.(jsonl?|txt|csv)$/i, '')))
    .filter((p) => p && p !== 'model')
    .join('-');
}
