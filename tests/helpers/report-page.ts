/**
 * What the report tests ask of a backtest report open in headless Chromium, as scripts evaluated in
 * the page (strings: the project's TypeScript has no DOM types). One copy for the one-strategy and
 * the portfolio report, so both are judged the same way.
 */
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';

/** How the report tests launch Debian's Chromium: headless, offline, nothing in the background. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The largest canvas of the chart with element id `id` (its plot pane), in page source. */
const PLOT_CANVAS = `(id) => [...document.querySelectorAll('#' + id + ' canvas')].sort((a, b) => b.width * b.height - a.width * a.height)[0]`;

/**
 * Whether every chart's plot pane has been painted (opaque pixels in a non-background colour). Each
 * check reads a fresh copy of the canvas: repeated reads of the chart's own canvas make Chromium
 * warn on the console, which the tests count as an error.
 */
export function chartsPaintedScript(ids: string[]): string {
  return `${JSON.stringify(ids)}.every((id) => {
    const c = (${PLOT_CANVAS})(id);
    if (!c || c.width === 0 || c.height === 0) return false;
    const copy = document.createElement('canvas');
    copy.width = c.width;
    copy.height = c.height;
    const ctx = copy.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(c, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200)) return true;
    return false;
  })`;
}

export interface ChartInk {
  id: string;
  width: number;
  height: number;
  /** Pixels that are not background. */
  inked: number;
  /** Whether the canvas differs from a blank one of its size. */
  differsFromBlank: boolean;
}

/** Per chart: its plot pane's size, how many pixels are not background, and whether it differs from blank. */
export function chartInkScript(ids: string[]): string {
  return `${JSON.stringify(ids)}.map((id) => {
    const c = (${PLOT_CANVAS})(id);
    if (!c) return { id, width: 0, height: 0, inked: 0, differsFromBlank: false };
    const blank = document.createElement('canvas');
    blank.width = c.width;
    blank.height = c.height;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let inked = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) inked++;
    return { id, width: c.width, height: c.height, inked, differsFromBlank: c.toDataURL() !== blank.toDataURL() };
  })`;
}

export interface MarkerCheck {
  time: number;
  /** The marker's x on the time scale, null when its time is off the scale. */
  x: number | null;
  width: number;
  /** Pixels of the marker's colour within a few pixels of its x in the chart's screenshot. */
  colored: number;
}

/**
 * Page source of `(chart) => (marker) => MarkerCheck`: one screenshot of the chart (one read of it:
 * repeated reads make Chromium warn), then for a marker its x and the pixels of its colour there.
 */
export const MARKER_CHECKER = `(z) => {
  const shot = z.takeScreenshot(true);
  const px = shot.getContext('2d').getImageData(0, 0, shot.width, shot.height).data;
  const paneWidth = z.timeScale().width();
  const leftWidth = z.priceScale('left').width();
  const scale = shot.width / (leftWidth + paneWidth + z.priceScale('right').width());
  const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
  return (m) => {
    const x = z.timeScale().timeToCoordinate(m.time);
    if (x === null) return { time: m.time, x, width: paneWidth, colored: 0 };
    const want = hex(m.color);
    const cx = Math.round((leftWidth + x) * scale);
    let colored = 0;
    for (let row = 0; row < shot.height; row++) {
      for (let col = Math.max(0, cx - 8); col <= Math.min(shot.width - 1, cx + 8); col++) {
        const i = (row * shot.width + col) * 4;
        if (Math.abs(px[i] - want[0]) < 40 && Math.abs(px[i + 1] - want[1]) < 40 && Math.abs(px[i + 2] - want[2]) < 40) colored++;
      }
    }
    return { time: m.time, x, width: paneWidth, colored };
  };
}`;

/** Page source of `(charts) => views`: each chart's visible time range and logical range. */
export const VISIBLE_RANGES = `(charts) => Object.entries(charts).map(([id, c]) => {
  const v = c.timeScale().getVisibleRange();
  const l = c.timeScale().getVisibleLogicalRange();
  return { id, from: v.from, to: v.to, logical: { from: l.from, to: l.to } };
})`;

/**
 * A new 1280×900 page opened on a report file, with what the tests count against it: console
 * errors and warnings, page errors, and every request that is not for a local file (a
 * self-contained report makes none).
 */
export async function openReport(browser: Browser, file: string): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (req) => {
    if (!req.url().startsWith('file:')) requests.push(req.url());
  });
  await page.goto(pathToFileURL(file).href);
  return { page, errors, requests };
}
