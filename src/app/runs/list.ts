// The list of saved runs, read from IndexedDB.
import { failureOf } from '../engine';
import { notify, patch } from '../store';
import * as db from './db';

export async function refreshRuns(): Promise<void> {
  try {
    patch('runs', { loaded: true, list: await db.listRuns() });
  } catch (e) {
    patch('runs', { loaded: true });
    notify({ tone: 'warning', title: 'Saved runs are unavailable', message: `This browser refused IndexedDB (${failureOf(e).message}). Runs will not be kept.` });
  }
}

export async function initRuns(): Promise<void> {
  try {
    await db.markInterrupted();
  } catch {
    /* reported by refreshRuns */
  }
  await refreshRuns();
}
