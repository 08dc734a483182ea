// Layout, keyboard focus and accessibility of the built app, with content in every panel:
// stories260K from files, the sample dataset, a short run on WebAssembly, a comparison and a
// batch. At phone width (360 and 390 px) nothing is wider than the screen and the base and
// tuned outputs stack; focus never falls to <body> when a button moves the user on, and only
// the focused one of the two model file buttons shows a focus ring; axe-core
// finds no serious or critical violation on any panel at 1400 or 390 px. Screenshots of every
// panel at both widths land in test-results/screenshots/layout-*.png.
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { buildApp, launchBrowser, openPage, screenshot, serveStatic, type StaticServer } from '../helpers/browser';
import { STORIES_DIR } from '../helpers/paths';

const require = createRequire(import.meta.url);
const PANELS = ['model', 'data', 'train', 'compare', 'export', 'runs'] as const;
type Panel = (typeof PANELS)[number];
const WIDE = { width: 1400, height: 900 };
const PHONE = { width: 390, height: 844 };

let app: StaticServer;
let browser: Browser;
let page: Page;

async function show(panel: Panel): Promise<void> {
  await page.locator(`#tab-${panel}`).click();
  await page.locator(`#panel-${panel}`).waitFor({ state: 'visible' });
}

async function fill(label: string, value: string | number, panel?: Panel): Promise<void> {
  const input = (panel ? page.locator(`#panel-${panel}`) : page).getByLabel(label, { exact: true });
  await input.fill(String(value));
  await input.blur();
}

/** Where keyboard focus is: the panel it is in, and the element. */
function focusInfo(): Promise<{ panel: string | null; tag: string; text: string }> {
  return page.evaluate(() => {
    const a = document.activeElement;
    return {
      panel: a?.closest('[role="tabpanel"]')?.id ?? null,
      tag: a ? a.tagName.toLowerCase() : 'none',
      text: (a?.textContent ?? '').trim().slice(0, 40),
    };
  });
}

/** Presses a button from the keyboard, as someone who does not use a mouse would. */
async function press(name: string | RegExp, panel: Panel): Promise<void> {
  const button = page.locator(`#panel-${panel}`).getByRole('button', { name });
  await button.focus();
  await page.keyboard.press('Enter');
}

/**
 * Everything that sticks out of the viewport: the document's own scroll width, and each
 * element whose box leaves [0, viewport width]. The tab bar scrolls sideways by design, so its
 * tabs are exempt (the bar itself is not).
 */
function overflow(): Promise<{ scrollWidth: number; clientWidth: number; offenders: string[] }> {
  return page.evaluate(() => {
    const root = document.documentElement;
    const vw = root.clientWidth;
    const offenders: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>('body *')) {
      if (el.closest('[role="tablist"] > *')) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.left < -0.5 || r.right > vw + 0.5) {
        const name = `${el.tagName.toLowerCase()}${el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : ''}`;
        offenders.push(`${name} "${(el.getAttribute('aria-label') ?? el.textContent ?? '').trim().slice(0, 40)}" ${Math.round(r.left)}..${Math.round(r.right)}`);
      }
    }
    return { scrollWidth: root.scrollWidth, clientWidth: vw, offenders };
  });
}

async function expectNoOverflow(where: string): Promise<void> {
  const o = await overflow();
  expect(o.offenders, `${where}: elements outside the ${o.clientWidth} px viewport`).toEqual([]);
  expect(o.scrollWidth, `${where}: document scroll width`).toBeLessThanOrEqual(o.clientWidth);
}

/** axe-core's serious and critical violations on the page as it is now. */
async function axeViolations(): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  return page.evaluate(async () => {
    type Result = { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] };
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: Result[] }> } }).axe;
    const { violations } = await axe.run(document, { resultTypes: ['violations'] });
    return violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id} (${v.help}): ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`);
  });
}

/** The selected tab lies wholly inside the visible part of the tab bar. */
function selectedTabInView(): Promise<boolean> {
  return page.evaluate(() => {
    const tab = document.querySelector<HTMLElement>('[role="tab"][aria-selected="true"]')!;
    const list = tab.closest<HTMLElement>('[role="tablist"]')!;
    const t = tab.getBoundingClientRect();
    const l = list.getBoundingClientRect();
    return t.left >= l.left - 0.5 && t.right <= l.right + 0.5 && t.right <= document.documentElement.clientWidth + 0.5;
  });
}

beforeAll(async () => {
  app = await serveStatic(await buildApp());
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: WIDE });
  ({ page } = await openPage(context, `${app.url}?backend=wasm`));
  await page.locator('button[data-backend="wasm"]').waitFor({ timeout: 60_000 });

  // Content for every panel: a model, the sample dataset, a run, a comparison, a batch.
  await page.getByLabel('Model files', { exact: true }).setInputFiles(STORIES_DIR);
  await page.locator('#panel-model dl[aria-label="Model summary"]').waitFor({ timeout: 60_000 });
  await show('data');
  await page.getByRole('button', { name: 'Try the sample dataset' }).click();
  await page.locator('#panel-data').getByRole('button', { name: /^Next: train/ }).waitFor({ timeout: 60_000 });
  await show('train');
  await page.getByRole('radio', { name: /Quick check/ }).click();
  // A cosine over 200 steps, stopped after its first few: the learning rate stays within a
  // hair of 1e-3, where two-digit ticks all read "1.0e-3".
  await fill('Epochs', 20, 'train');
  await fill('Max steps', 200, 'train');
  await page.getByRole('button', { name: 'Start training' }).click();
  await page.locator('figure[data-chart="lr"]:not([data-points="0"]):not([data-points="1"])').waitFor({ timeout: 240_000 });
  await page.locator('#panel-train').getByRole('button', { name: 'Stop', exact: true }).click();
  await page.locator('#panel-train [data-status="stopped"]').waitFor({ timeout: 120_000 });
  await show('compare');
  await fill('Prompt', 'Write a story about a cat named Pip.');
  await fill('Max new tokens', 40);
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.locator('section[aria-label$="output"] .chip.done').nth(1).waitFor({ timeout: 120_000 });
  await fill('Examples', 3, 'compare');
  await page.getByRole('button', { name: 'Run batch comparison' }).click();
  await page.locator('table[aria-label="Batch comparison"] tbody tr').nth(2).waitFor({ timeout: 180_000 });
  await page.getByRole('button', { name: 'Run batch comparison' }).waitFor({ timeout: 60_000 });
}, 600_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && page) await screenshot(page, `failed-layout-${ctx.task.name.slice(0, 40).replace(/\W+/g, '-')}`).catch(() => {});
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

describe('layout, focus and accessibility', () => {
  test('learning-rate ticks read differently from each other', async () => {
    await show('train');
    const lr = page.locator('figure[data-chart="lr"]');
    expect(Number(await lr.getAttribute('data-points'))).toBeGreaterThanOrEqual(2);
    const ticks = JSON.parse((await lr.getAttribute('data-y-ticks')) ?? '[]') as string[];
    const shown = ticks.filter((t) => t !== '');
    expect(shown.length).toBeGreaterThanOrEqual(2);
    expect(new Set(shown).size, `learning-rate ticks ${shown.join(', ')}`).toBe(shown.length);
  }, 60_000);

  test('"Next: …" and "Start training", pressed from the keyboard, leave focus on the new panel, not on <body>', async () => {
    await show('model');
    await press(/^Next: choose data/, 'model');
    await expect.poll(() => page.locator('#panel-data').isVisible()).toBe(true);
    await expect.poll(focusInfo).toMatchObject({ panel: 'panel-data' });
    // The panel's heading or its first control.
    expect(['h2', 'button', 'input', 'select']).toContain((await focusInfo()).tag);

    await press(/^Next: train/, 'data');
    await expect.poll(() => page.locator('#panel-train').isVisible()).toBe(true);
    await expect.poll(focusInfo).toMatchObject({ panel: 'panel-train' });
    expect(['h2', 'button', 'input', 'select']).toContain((await focusInfo()).tag);

    // "Start training" gives way to Pause and Stop.
    await fill('Epochs', 1, 'train');
    await fill('Max steps', 4, 'train');
    await press('Start training', 'train');
    await page.locator('#panel-train [data-status="starting"], #panel-train [data-status="running"]').first().waitFor({ timeout: 30_000 });
    await expect.poll(focusInfo).toMatchObject({ panel: 'panel-train' });
    expect(['h2', 'button']).toContain((await focusInfo()).tag);
    await page.locator('#panel-train [data-status="done"]').waitFor({ timeout: 240_000 });
    // And still, once Pause and Stop have given way to "Start training" again.
    expect((await focusInfo()).panel).toBe('panel-train');

    await press(/^Compare base and tuned/, 'train');
    await expect.poll(() => page.locator('#panel-compare').isVisible()).toBe(true);
    await expect.poll(focusInfo).toMatchObject({ panel: 'panel-compare' });
  }, 300_000);

  test('of the two model file buttons, only the one whose input has keyboard focus shows a focus ring', async () => {
    await show('model');
    // Tab from "Hub settings" to the folder input, then on to the files input.
    await page.locator('#panel-model summary', { hasText: 'Hub settings' }).focus();
    const rings = () =>
      page.evaluate(() =>
        [...document.querySelectorAll<HTMLLabelElement>('#panel-model .drop-actions label.button')].map((l) => ({
          text: l.textContent?.trim(),
          ring: getComputedStyle(l).outlineStyle !== 'none',
        })),
      );
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Model files');
    expect(await rings()).toEqual([
      { text: 'Choose a folder…', ring: true },
      { text: 'Choose files…', ring: false },
    ]);
    await page.keyboard.press('Tab');
    expect(await rings()).toEqual([
      { text: 'Choose a folder…', ring: false },
      { text: 'Choose files…', ring: true },
    ]);
  }, 60_000);

  test('the histogram keeps its max-length label inside the chart when the line is at the far left', async () => {
    await show('data');
    const before = await page.getByLabel('Max length', { exact: true }).inputValue();
    await fill('Max length', 16, 'data');
    const summary = page.locator('dl[aria-label="Dataset summary"]');
    await expect.poll(async () => (await summary.textContent()) ?? '', { timeout: 60_000 }).toContain('at 16 tokens');
    const label = page.locator('figure.histogram .cut text');
    await expect.poll(() => label.textContent()).toBe('max length 16');
    const box = await label.evaluate((t) => {
      const svg = t.closest('svg')!;
      const b = (t as SVGTextElement).getBBox();
      return { left: b.x, right: b.x + b.width, width: svg.viewBox.baseVal.width };
    });
    expect(box.left).toBeGreaterThanOrEqual(0);
    expect(box.right).toBeLessThanOrEqual(box.width);
    await fill('Max length', before, 'data');
    await expect.poll(async () => (await summary.textContent()) ?? '', { timeout: 60_000 }).toContain(`at ${before} tokens`);
    await page.locator('#panel-data').getByRole('button', { name: /^Next: train/ }).waitFor({ timeout: 60_000 });
  }, 120_000);

  test('Compare at phone width: base above tuned, each the width of the screen', async () => {
    await show('compare');
    // Wide: side by side.
    const boxes = async () => {
      const base = (await page.locator('section[aria-label="Base model output"]').boundingBox())!;
      const tuned = (await page.locator('section[aria-label^="Tuned"][aria-label$="output"]').boundingBox())!;
      return { base, tuned };
    };
    let b = await boxes();
    expect(Math.abs(b.base.y - b.tuned.y)).toBeLessThan(2);

    await page.setViewportSize(PHONE);
    await expect.poll(async () => (await boxes()).base.width).toBeGreaterThanOrEqual(300);
    b = await boxes();
    expect(b.base.y + b.base.height).toBeLessThanOrEqual(b.tuned.y);
    expect(b.tuned.width).toBeGreaterThanOrEqual(300);
    await page.setViewportSize(WIDE);
  }, 60_000);

  test('no horizontal overflow at 360 and 390 px on any panel, with content in each', async () => {
    for (const size of [{ width: 360, height: 780 }, PHONE]) {
      await page.setViewportSize(size);
      for (const panel of PANELS) {
        await show(panel);
        await expectNoOverflow(`${panel} at ${size.width} px`);
      }
      // The backend settings, open.
      await page.getByRole('button', { name: /^Backend:/ }).click();
      await page.getByRole('dialog', { name: 'Backend settings' }).waitFor();
      await expectNoOverflow(`backend settings at ${size.width} px`);
      await page.keyboard.press('Escape');
    }
    // The chart data tables and the step log, open, at 360 px.
    await page.setViewportSize({ width: 360, height: 780 });
    await show('train');
    for (const summary of await page.locator('#panel-train figure[data-chart] summary').all()) await summary.click();
    await page.locator('table[aria-label="Loss data"] tbody tr').first().waitFor();
    await expectNoOverflow('Train with the data tables open at 360 px');
    for (const summary of await page.locator('#panel-train figure[data-chart] summary').all()) await summary.click();
    await page.setViewportSize(WIDE);
  }, 180_000);

  test('at phone width the chosen tab scrolls into view, whatever chose it', async () => {
    await page.setViewportSize(PHONE);
    await show('model');
    // Alt+6 and Alt+1: the panel shortcuts, which never touch the tab bar.
    await page.locator('#panel-model h2').first().click();
    await page.keyboard.press('Alt+6');
    await expect.poll(() => page.locator('#panel-runs').isVisible()).toBe(true);
    await expect.poll(selectedTabInView).toBe(true);
    await page.keyboard.press('Alt+1');
    await expect.poll(() => page.locator('#panel-model').isVisible()).toBe(true);
    await expect.poll(selectedTabInView).toBe(true);
    // A "Next" button with the tab bar scrolled to its far end.
    await page.keyboard.press('Alt+2');
    await page.locator('[role="tablist"]').evaluate((l) => (l.scrollLeft = l.scrollWidth));
    await press(/^Next: train/, 'data');
    await expect.poll(() => page.locator('#panel-train').isVisible()).toBe(true);
    await expect.poll(selectedTabInView).toBe(true);
    await expect.poll(focusInfo).toMatchObject({ panel: 'panel-train' });
    await page.setViewportSize(WIDE);
  }, 120_000);

  test('axe-core finds no serious or critical violation on any panel at 1400 and 390 px', async () => {
    const found: string[] = [];
    for (const size of [WIDE, PHONE]) {
      await page.setViewportSize(size);
      for (const panel of PANELS) {
        await show(panel);
        for (const v of await axeViolations()) found.push(`${panel} at ${size.width} px: ${v}`);
      }
    }
    expect(found).toEqual([]);
    await page.setViewportSize(WIDE);
  }, 240_000);

  test('screenshots of every panel at 390 and 1400 px', async () => {
    for (const size of [PHONE, WIDE]) {
      await page.setViewportSize(size);
      for (const panel of PANELS) {
        await show(panel);
        await page.evaluate(() => window.scrollTo(0, 0));
        // Past the tabs' 0.12 s colour transition.
        await page.waitForTimeout(300);
        await screenshot(page, `layout-${panel}-${size.width}`);
      }
    }
  }, 120_000);

  test('notices leave the end of the page reachable: scrolled down, nothing is under them', async () => {
    await page.setViewportSize(PHONE);
    await show('runs');
    await page.locator('#panel-runs').getByRole('button', { name: 'Load adapter' }).first().click();
    const notice = page.locator('.notice').filter({ hasText: 'Adapter loaded' });
    await notice.waitFor({ timeout: 30_000 });
    // Scrolled to the end, the footer (the page's last line) ends above the topmost notice.
    const clear = () =>
      page.evaluate(() => {
        window.scrollTo(0, document.documentElement.scrollHeight);
        const footer = document.querySelector('footer.footer')!.getBoundingClientRect();
        const notices = [...document.querySelectorAll('.notice')].map((n) => n.getBoundingClientRect().top);
        return notices.length > 0 && footer.bottom <= Math.min(...notices) + 0.5;
      });
    await expect.poll(clear, { timeout: 3000 }).toBe(true);
    await screenshot(page, 'layout-notice-390');
    await page.setViewportSize(WIDE);
  }, 60_000);
});
