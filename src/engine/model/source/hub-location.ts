// Where a hub file lives: its URL, and its key in transformers.js's caches. The keys must be
// the ones transformers.js computes (utils/hub.js buildResourcePaths, not exported), so that the
// weights we cache sit beside the JSON files it caches and one lookup finds both.
import { ModelSourceError } from './source-errors';

export const DEFAULT_HOST = 'https://huggingface.co';
/** transformers.js's default env.remotePathTemplate; set explicitly for every hub load. */
export const HUB_PATH_TEMPLATE = '{model}/resolve/{revision}/';

export interface HubLocation {
  repoId: string;
  revision: string;
  host: string;
}

// transformers.js's REPO_ID_REGEX plus its extra rules; an id it rejects it would never download.
const REPO_ID = /^(\b[\w\-.]+\b\/)?\b[\w\-.]{1,96}\b$/;

export function hubLocation(repoId: string, revision = 'main', host = DEFAULT_HOST): HubLocation {
  const invalid =
    !REPO_ID.test(repoId) || repoId.includes('..') || repoId.includes('--') || /\.(git|ipynb)$/.test(repoId);
  if (invalid) throw new ModelSourceError(`Hugging Face hub: "${repoId}" is not a repo id (expected e.g. "org/name")`, [], { origin: 'hub' });
  return { repoId, revision, host };
}

/** pathJoin from transformers.js: one slash between parts, whatever the parts carry. */
function pathJoin(...parts: string[]): string {
  return parts
    .map((p, i) => {
      let s = i ? p.replace(/^\//, '') : p;
      if (i !== parts.length - 1) s = s.replace(/\/$/, '');
      return s;
    })
    .join('/');
}

export function remoteUrl(loc: HubLocation, file: string): string {
  const path = HUB_PATH_TEMPLATE.replaceAll('{model}', loc.repoId).replaceAll('{revision}', encodeURIComponent(loc.revision));
  return pathJoin(loc.host, path, file);
}

/** FileCache key, relative to the cache folder: the revision appears only when it is not main. */
export function fsCacheKey(loc: HubLocation, file: string): string {
  return loc.revision === 'main' ? pathJoin(loc.repoId, file) : pathJoin(loc.repoId, loc.revision, file);
}

/** The file a hub URL points at (for error messages about requests transformers.js made). */
export function fileOfUrl(url: string): string {
  const path = url.split(/[?#]/)[0] ?? url;
  return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1));
}
