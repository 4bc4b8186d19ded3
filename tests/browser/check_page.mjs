// check_page.mjs — loads one of the project's pages in Debian's Chromium (headless, driven by
// playwright-core; no browser is ever downloaded), works its hover/focus interaction as a
// person would, and exits non-zero when anything is off:
//   * a console error, an uncaught exception, a failed request, a reply >= 400, or a request
//     for anything but the page itself (the pages must be self-contained);
//   * the failure report (--page report): hovering a histogram bar (--hover I=TEXT) or
//     focusing one (--focus I=TEXT) must open that bucket's panel (heading with the bucket's
//     label, a row with TEXT, the bar marked active), and ArrowLeft from a focused bar must
//     move focus and the panel to the bar before it; with --order KEY=NAME, clicking the
//     order switch's KEY button and then pressing Enter and Space on the other one must show
//     that order's table (first row NAME for KEY, and back), with aria-pressed following;
//   * the dashboard (--page dashboard): hovering a day of a trend chart (--hover CHART:I=TEXT,
//     I from 0, negative from the end) must put that day's hover column on top under the
//     pointer, with the hover text TEXT (its SVG <title>, which the browser shows as the
//     tooltip), and highlight the column while hovered only;
//   * the calls page (--page calls --rows N): N calls in its table;
//   * every page, at --width (default 1280 px): the page scrolling sideways, a one-word cell
//     broken across lines, and from 1000 px a table wider than its box (but the calls page,
//     whose eleven columns scroll in their box by design);
//   * every page served over HTTP: no Content-Security-Policy header, any CSP violation
//     (`securitypolicyviolation` events, recorded from before the page's first byte), or an
//     inline script added to the page that runs anyway (docs/access-and-safety.md, "Output
//     that cannot be turned against its reader").
//
//   node tests/browser/check_page.mjs --page report|dashboard|calls --url URL
//        [--hover SPEC]... [--focus SPEC]... [--order KEY=NAME]... [--width PX] [--screenshot PATH]
//
// CHROMIUM overrides /usr/bin/chromium. Prints one line per check; the last line is
// `check_page: all N checks passed` or `not ok - …` with the first failure.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

function parseArgs(argv) {
  const opts = { hover: [], focus: [], order: [], width: 1280 };
  for (let i = 0; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${key} needs a value`);
    switch (key) {
      case '--page': opts.page = value; break;
      case '--url': opts.url = value; break;
      case '--screenshot': opts.screenshot = value; break;
      case '--width': opts.width = Number(value); break;
      case '--rows': opts.rows = Number(value); break;
      case '--hover': opts.hover.push(spec(value)); break;
      case '--focus': opts.focus.push(spec(value)); break;
      case '--order': {
        const eq = value.indexOf('=');
        if (eq < 0) throw new Error(`expected KEY=NAME, got ${value}`);
        opts.order.push({ key: value.slice(0, eq), name: value.slice(eq + 1) });
        break;
      }
      default: throw new Error(`unknown argument ${key}`);
    }
  }
  if (!['report', 'dashboard', 'calls'].includes(opts.page)) throw new Error('--page must be report, dashboard or calls');
  if (!opts.url) throw new Error('--url is required');
  if (!Number.isInteger(opts.width) || opts.width < 320) throw new Error('--width must be a whole number >= 320');
  if (opts.page === 'dashboard' && opts.focus.length) throw new Error('the dashboard has nothing to focus');
  if (opts.page === 'dashboard' && opts.order.length) throw new Error('the dashboard has no order switch');
  if (opts.page === 'calls' && !Number.isInteger(opts.rows)) throw new Error('the calls page needs --rows N');
  if (opts.page !== 'calls' && !opts.hover.length && !opts.focus.length) throw new Error('give at least one --hover or --focus');
  return opts;
}

// `I=TEXT` or `CHART:I=TEXT`.
function spec(value) {
  const eq = value.indexOf('=');
  if (eq < 0) throw new Error(`expected TARGET=TEXT, got ${value}`);
  const target = value.slice(0, eq);
  const text = value.slice(eq + 1);
  const colon = target.lastIndexOf(':');
  const chart = colon < 0 ? null : target.slice(0, colon);
  const index = Number(colon < 0 ? target : target.slice(colon + 1));
  if (!Number.isInteger(index)) throw new Error(`bad index in ${value}`);
  return { chart, index, text };
}

class CheckFailed extends Error {}
let passed = 0;
function check(ok, what, detail) {
  if (!ok) throw new CheckFailed(`${what}${detail === undefined ? '' : `: ${detail}`}`);
  passed += 1;
  console.log(`ok - ${what}`);
}

async function checkReport(page, opts) {
  const bars = page.locator('svg.chart g.bar');
  const n = await bars.count();
  check(n > 0, 'the histogram has bars', `found ${n}`);
  const data = JSON.parse(await page.locator('#data').textContent());
  const panel = page.locator('#bucket');
  check(/Hover, focus or tap a bar/.test(await panel.innerText()), 'the panel starts with its hint');

  async function expectPanel(i, text, how) {
    const b = data.buckets[i];
    check(b !== undefined, `bucket ${i} exists`, `${n} bars`);
    const heading = panel.locator('h3');
    try {
      await heading.filter({ hasText: `Failure rate ${b.label}` }).waitFor({ timeout: 2000 });
      check(true, `${how} bar ${i} opens the ${b.label} panel`);
    } catch {
      check(false, `${how} bar ${i} opens the ${b.label} panel`,
        `panel says ${JSON.stringify(await panel.innerText())}`);
    }
    check(await panel.isVisible(), `${how} bar ${i}: the panel is visible`);
    const rows = panel.locator('tbody tr');
    check(await rows.count() === Math.min(b.users.length, 50),
      `${how} bar ${i}: the panel lists the bucket's ${b.users.length} user(s)`, `${await rows.count()} rows`);
    check(await rows.filter({ hasText: text }).count() > 0,
      `${how} bar ${i}: the panel lists ${JSON.stringify(text)}`, await panel.innerText());
    const bar = page.locator(`svg.chart g.bar[data-i="${i}"]`);
    await page.waitForTimeout(300); // the bars' colour transition (0.12 s)
    check(await bar.getAttribute('aria-pressed') === 'true', `${how} bar ${i}: aria-pressed`);
    const active = await page.locator('svg.chart g.bar.active').count();
    check(active === 1 && await bar.evaluate((g) => g.classList.contains('active')),
      `${how} bar ${i}: it alone is marked active`, `${active} active`);
    // The active bar is drawn in the accent colour, the others are not.
    const fills = await page.locator('svg.chart g.bar rect.fill')
      .evaluateAll((rects) => rects.map((r) => getComputedStyle(r).fill));
    const distinct = fills.filter((f, k) => k !== i && f === fills[i]).length;
    check(distinct === 0, `${how} bar ${i}: it is drawn in another colour`, JSON.stringify(fills));
  }

  for (const { index, text } of opts.hover) {
    // Where a person would point: the middle of the bar's column.
    const box = await page.locator(`svg.chart g.bar[data-i="${index}"] rect.hit`).boundingBox();
    check(box !== null, `bar ${index} has a hit area on screen`);
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await expectPanel(index, text, 'hovering');
  }
  for (const { index, text } of opts.focus) {
    await page.mouse.move(0, 0);
    await page.locator(`svg.chart g.bar[data-i="${index}"]`).focus();
    await expectPanel(index, text, 'focusing');
    if (index > 0) {
      await page.keyboard.press('ArrowLeft');
      const focused = await page.evaluate(() => document.activeElement?.getAttribute('data-i'));
      check(focused === String(index - 1), `ArrowLeft moves focus to bar ${index - 1}`, `focus on ${focused}`);
      const label = data.buckets[index - 1].label;
      try {
        await panel.locator('h3').filter({ hasText: `Failure rate ${label}` }).waitFor({ timeout: 2000 });
        check(true, `ArrowLeft opens the ${label} panel`);
      } catch {
        check(false, `ArrowLeft opens the ${label} panel`, await panel.innerText());
      }
    }
  }
}

// The top users' order switch: the first row of the visible table, and which button is pressed.
async function checkOrder(page, opts) {
  if (!opts.order.length) return;
  const buttons = page.locator('.order-switch button');
  check(await buttons.count() === 2 && await page.locator('.order-switch').isVisible(),
    'the order switch shows two buttons', `${await buttons.count()} buttons`);
  const firstRow = async () => {
    const visible = page.locator('table#top-users tbody:visible');
    const n = await visible.count();
    if (n !== 1) return `${n} visible tables`;
    return (await visible.locator('tr').first().locator('td.name').innerText()).trim();
  };
  const pressed = () => buttons.evaluateAll((bs) => bs.map((b) => `${b.dataset.order}=${b.getAttribute('aria-pressed')}`).join(' '));
  const expectOrder = async (key, name, how) => {
    let got;
    for (let t = 0; t < 20; t += 1) {
      got = await firstRow();
      if (got === name) break;
      await page.waitForTimeout(100);
    }
    check(got === name, `${how}: the first row is ${JSON.stringify(name)}`, `it is ${JSON.stringify(got)}`);
    const p = await pressed();
    check(p.includes(`${key}=true`) && !/=true.*=true/.test(p), `${how}: ${key} alone is pressed`, p);
  };
  const keys = await buttons.evaluateAll((bs) => bs.map((b) => b.dataset.order));
  for (const { key, name } of opts.order) {
    check(keys.includes(key), `the switch has a ${key} button`, keys.join(', '));
    await page.locator(`.order-switch button[data-order="${key}"]`).click();
    await expectOrder(key, name, `clicking ${key}`);
  }
  // The keyboard: Enter on one button and Space on the other switch back and forth.
  const [a, b] = [opts.order[0], opts.order[opts.order.length - 1]];
  for (const [{ key, name }, press] of [[b, 'Enter'], [a, 'Space'], [b, 'Space'], [a, 'Enter']]) {
    await page.locator(`.order-switch button[data-order="${key}"]`).focus();
    await page.keyboard.press(press);
    await expectOrder(key, name, `${press} on ${key}`);
  }
}

async function checkDashboard(page, opts) {
  const transparent = (fill) => fill === 'none' || fill === 'transparent' || /rgba\(.*,\s*0\)$/.test(fill);
  for (const { chart, index, text } of opts.hover) {
    check(chart !== null, 'a dashboard hover names its chart (CHART:I=TEXT)');
    const hits = page.locator(`svg#trend-${chart} rect.hit`);
    const n = await hits.count();
    check(n > 0, `chart ${chart} has hover columns`, `found ${n}`);
    const i = index < 0 ? n + index : index;
    const hit = hits.nth(i);
    await hit.scrollIntoViewIfNeeded();
    const box = await hit.boundingBox();
    check(box !== null && box.width > 0 && box.height > 0, `${chart} day ${i} has a hover column on screen`);
    const [x, y] = [box.x + box.width / 2, box.y + box.height * 0.75];
    await page.mouse.move(x, y);
    // The element under the pointer is the day's column (nothing covers it), and its title is
    // what the browser shows as the tooltip.
    const under = await page.evaluate(([px, py]) => {
      const e = document.elementFromPoint(px, py);
      const t = e && e.querySelector(':scope > title');
      return { cls: e && e.getAttribute('class'), title: t && t.textContent, fill: e && getComputedStyle(e).fill };
    }, [x, y]);
    check(under.cls === 'hit', `hovering ${chart} day ${i}: its hover column is on top`, `found class ${under.cls}`);
    check(under.title === text, `hovering ${chart} day ${i}: the tooltip reads ${JSON.stringify(text)}`,
      `it reads ${JSON.stringify(under.title)}`);
    const fills = await hits.evaluateAll((rects) => rects.map((r) => getComputedStyle(r).fill));
    check(!transparent(fills[i]) && fills.filter((f, k) => k !== i && !transparent(f)).length === 0,
      `hovering ${chart} day ${i}: that column alone is highlighted`, JSON.stringify(fills));
    await page.mouse.move(1, 1);
    const after = await hit.evaluate((r) => getComputedStyle(r).fill);
    check(transparent(after), `leaving ${chart} day ${i}: the highlight goes`, after);
  }
}

// At any width the page itself never scrolls sideways (a wide table scrolls in its own box),
// and no one-word cell (a name, a number) is broken across lines; on a laptop (>= 1000 px)
// every table also fits its box (no column scrolled out of sight).
async function checkLayout(page, width, wideTables) {
  const sideways = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(sideways <= 0, `at ${width} px the page does not scroll sideways`, `${sideways} px too wide`);
  if (width < 1000 || wideTables) return checkCells(page);
  const clipped = await page.evaluate(() => [...document.querySelectorAll('.scroll')]
    .filter((el) => el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1)
    .map((el) => `${el.querySelector('table')?.id || el.className}: ${el.scrollWidth} > ${el.clientWidth} px`));
  check(clipped.length === 0, 'every table fits its box', clipped.join('; '));
  return checkCells(page);
}

async function checkCells(page) {
  const broken = await page.evaluate(() => [...document.querySelectorAll('td')]
    .filter((td) => td.offsetParent !== null && td.childNodes.length === 1
      && td.firstChild.nodeType === Node.TEXT_NODE && /^\S{1,16}$/.test(td.textContent.trim()))
    .filter((td) => {
      const range = document.createRange();
      range.selectNodeContents(td);
      const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
      return lines.size > 1;
    })
    .map((td) => JSON.stringify(td.textContent.trim())));
  check(broken.length === 0, 'no one-word cell is broken across lines', broken.join(', '));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const profile = mkdtempSync(join(tmpdir(), 'ca-chromium-'));
  const problems = [];
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      viewport: { width: opts.width, height: 2000 },
      args: [
        '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync',
      ],
    });
    const page = context.pages()[0] ?? await context.newPage();
    const pageUrl = new URL(opts.url);
    // Every CSP violation of the page, from its start (an init script runs before the page's
    // own and is not subject to its policy).
    await page.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'}: ${e.sample}`);
      }, true);
    });
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`uncaught exception: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`failed request: ${r.url()} (${r.failure()?.errorText})`));
    page.on('request', (r) => {
      const u = new URL(r.url());
      const same = u.protocol === 'data:' || (u.origin === pageUrl.origin && u.pathname === pageUrl.pathname);
      if (!same) problems.push(`request for something but the page: ${r.url()}`);
    });
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`); });

    const response = await page.goto(opts.url, { waitUntil: 'load' });
    check(response === null || response.ok(), 'the page loads', response && `HTTP ${response.status()}`);
    const served = pageUrl.protocol === 'http:' || pageUrl.protocol === 'https:';
    const policy = response && response.headers()['content-security-policy'];
    if (served) check(!!policy, 'the page is served with a Content-Security-Policy', JSON.stringify(response.headers()));
    if (opts.page === 'report') { await checkReport(page, opts); await checkOrder(page, opts); }
    else if (opts.page === 'dashboard') await checkDashboard(page, opts);
    else {
      const rows = await page.locator('table tbody tr').count();
      check(rows === opts.rows, `the calls page lists ${opts.rows} calls`, `it lists ${rows}`);
    }
    await checkLayout(page, opts.width, opts.page === 'calls');
    if (opts.screenshot) await page.screenshot({ path: opts.screenshot, fullPage: true });
    check(problems.length === 0, 'no console error, exception or failed or outside request', problems.join('; '));
    const violations = await page.evaluate(() => window.__cspViolations);
    check(Array.isArray(violations) && violations.length === 0, 'the page caused no CSP violation', JSON.stringify(violations));
    if (policy) {
      // Last (it logs a console error): the policy is in force, markup that slipped into the
      // page cannot run script.
      const ran = await page.evaluate(() => {
        window.__injected = false;
        const s = document.createElement('script');
        s.textContent = 'window.__injected = true;';
        document.body.appendChild(s);
        return window.__injected;
      });
      await page.waitForTimeout(100);
      const refused = await page.evaluate(() => window.__cspViolations.length);
      check(!ran && refused > 0, 'an injected inline script is refused by the policy', `ran: ${ran}, violations: ${refused}`);
    }
    console.log(`check_page: all ${passed} checks passed`);
  } finally {
    if (context) await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((e) => {
  const known = e instanceof CheckFailed;
  console.log(`not ok - ${e.message}`);
  if (!known) console.error(e.stack);
  console.log(`check_page: failed after ${passed} checks passed`);
  process.exit(1);
});
