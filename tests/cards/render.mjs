#!/usr/bin/env node
// tests/cards/render.mjs — parse, validate and render an Adaptive Card with Microsoft's own
// renderer (npm `adaptivecards`, the JavaScript SDK Teams' web client is built on) in headless
// Chromium, and take a screenshot.
//
//   node tests/cards/render.mjs <card.json> <screenshot.png> [--expect TEXT]... [--max-version 1.4]
//
// <card.json> is the card itself ({"type": "AdaptiveCard", ...}), not the Teams message around
// it. The page is served by this script from node_modules (no CDN, no network: every other
// request is refused and counted as an error). In the page:
//   1. `card.parse(json, context)` with a `SerializationContext` whose target version is
//      --max-version (default 1.4, what the Teams Workflows webhook takes), so elements,
//      properties and values introduced later are parse errors; the card's own maxVersion is
//      the same, so `"version": "9.9"` fails validation;
//   2. `card.validateProperties()` — the validation events (missing required properties,
//      unsupported version, duplicate ids, ...);
//   3. `card.render()` — it must return a non-empty element, and every --expect TEXT, every
//      TextBlock text and every FactSet title and value of the card must appear in its text.
// Beyond the SDK: the top-level "version" must be present (the schema requires it).
// The SDK's events carry no severity: every parse or validation event is an error, except
// `Hint`. Console errors and uncaught page errors are errors too. Exit status: 0 when there
// were no errors (screenshot written), 1 when there were (listed on stderr, screenshot still
// written when the page rendered), 2 on bad usage or when the browser could not run.
//
// The browser is Debian's /usr/bin/chromium (CHROMIUM overrides), driven by playwright-core,
// which downloads no browser; a fresh user-data dir per run, removed afterwards.

import { readFileSync, mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const ORIGIN = "http://cards.test";

function usage(msg) {
  if (msg) console.error(`render.mjs: ${msg}`);
  console.error("usage: node render.mjs <card.json> <screenshot.png> [--expect TEXT]... [--max-version M.m]");
  process.exit(2);
}

const positional = [];
const expect = [];
let maxVersion = "1.4";
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === "--expect") expect.push(process.argv[++i] ?? usage("--expect needs a value"));
  else if (a === "--max-version") maxVersion = process.argv[++i] ?? usage("--max-version needs a value");
  else if (a.startsWith("--")) usage(`unknown option ${a}`);
  else positional.push(a);
}
if (positional.length !== 2) usage();
if (!/^\d+\.\d+$/.test(maxVersion)) usage(`--max-version ${maxVersion}: want M.m`);
const [cardPath, shotPath] = positional.map((p) => resolve(p));

let cardJson;
try {
  cardJson = JSON.parse(readFileSync(cardPath, "utf8"));
} catch (e) {
  console.error(`render.mjs: ${cardPath}: ${e.message}`);
  process.exit(1);
}

// The texts the rendered card must show: --expect, every TextBlock, every fact.
function textsOf(node, out) {
  if (Array.isArray(node)) node.forEach((n) => textsOf(n, out));
  else if (node && typeof node === "object") {
    if (node.type === "TextBlock" && typeof node.text === "string") out.push(node.text);
    if (node.type === "FactSet" && Array.isArray(node.facts)) {
      for (const f of node.facts) {
        if (typeof f?.title === "string") out.push(f.title);
        if (typeof f?.value === "string") out.push(f.value);
      }
    }
    for (const [k, v] of Object.entries(node)) if (k !== "fallback") textsOf(v, out);
  }
  return out;
}
const mustShow = [...expect, ...textsOf(cardJson.body ?? [], [])];

const bundle = readFileSync(join(here, "node_modules/adaptivecards/dist/adaptivecards.min.js"));
const css = readFileSync(join(here, "node_modules/adaptivecards/dist/adaptivecards.css"));
const sdk = JSON.parse(readFileSync(join(here, "node_modules/adaptivecards/package.json"), "utf8")).version;
const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Adaptive Card</title>
<style>body { margin: 0; padding: 16px; background: #f5f5f5; font-family: "Segoe UI", sans-serif; }
#card { width: 480px; background: #fff; border: 1px solid #ddd; border-radius: 4px; }</style>
<link rel="stylesheet" href="/adaptivecards.css">
<script src="/adaptivecards.min.js"></script></head>
<body><div id="card"></div></body></html>`;

// Runs in the page: parse, validate, render; returns what happened.
function inPage({ card: source, maxVersion }) {
  const AC = window.AdaptiveCards;
  const [major, minor] = maxVersion.split(".").map(Number);
  const target = new AC.Version(major, minor);
  const events = [];
  const note = (phase, e) =>
    events.push({
      phase,
      event: AC.ValidationEvent[e.event] ?? String(e.event),
      message: e.message,
      source: e.source && typeof e.source.getJsonTypeName === "function" ? e.source.getJsonTypeName() : undefined,
    });
  const card = new AC.AdaptiveCard();
  card.maxVersion = target;
  const context = new AC.SerializationContext(target);
  let parseException;
  try {
    card.parse(source, context);
  } catch (e) {
    parseException = String(e && e.stack ? e.stack : e);
  }
  for (let i = 0; i < context.eventCount; i++) note("parse", context.getEventAt(i));
  const results = card.validateProperties();
  for (const e of results.validationEvents) note("validation", e);
  let rendered;
  let renderException;
  try {
    rendered = card.render();
  } catch (e) {
    renderException = String(e && e.stack ? e.stack : e);
  }
  const host = document.getElementById("card");
  if (rendered) host.appendChild(rendered);
  return {
    cardVersion: card.version ? card.version.toString() : null,
    parseException,
    renderException,
    events,
    rendered: !!rendered,
    childCount: rendered ? rendered.childElementCount : 0,
    text: rendered ? rendered.innerText : "",
    height: rendered ? rendered.getBoundingClientRect().height : 0,
  };
}

const errors = [];
// The card schema requires a top-level "version"; the SDK would silently assume 1.0.
if (typeof cardJson?.version !== "string") errors.push('schema error: the card has no "version" (required)');
const profile = mkdtempSync(join(tmpdir(), "cards-chromium-"));
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // playwright-core already passes --headless, --no-sandbox, --no-first-run,
    // --disable-background-networking, --disable-component-update and --disable-sync.
    args: ["--disable-gpu"],
    viewport: { width: 520, height: 400 },
    timeout: 60_000,
  });
} catch (e) {
  rmSync(profile, { recursive: true, force: true });
  console.error(`render.mjs: cannot start Chromium: ${e.message}`);
  process.exit(2);
}

let result;
try {
  const tab = context.pages()[0] ?? (await context.newPage());
  tab.on("console", (m) => {
    if (m.type() === "error") errors.push(`console error: ${m.text()}`);
  });
  tab.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  // The only origin: this page and the bundle. Anything else (a CDN, an image) is refused.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url === `${ORIGIN}/`) return route.fulfill({ contentType: "text/html; charset=utf-8", body: page });
    if (url === `${ORIGIN}/adaptivecards.min.js`)
      return route.fulfill({ contentType: "text/javascript; charset=utf-8", body: bundle });
    if (url === `${ORIGIN}/adaptivecards.css`) return route.fulfill({ contentType: "text/css; charset=utf-8", body: css });
    errors.push(`request refused (no network): ${url}`);
    return route.abort("blockedbyclient");
  });
  await tab.goto(`${ORIGIN}/`, { waitUntil: "load" });
  if (!(await tab.evaluate(() => typeof window.AdaptiveCards?.AdaptiveCard === "function")))
    throw new Error("the adaptivecards bundle did not load");
  result = await tab.evaluate(inPage, { card: cardJson, maxVersion });

  if (result.parseException) errors.push(`parse threw: ${result.parseException}`);
  if (result.renderException) errors.push(`render threw: ${result.renderException}`);
  for (const e of result.events) {
    if (e.event === "Hint") console.error(`hint (${e.phase}): ${e.message}`);
    else errors.push(`${e.phase} error ${e.event}${e.source ? ` in ${e.source}` : ""}: ${e.message}`);
  }
  if (!result.rendered || result.childCount === 0 || result.height <= 0)
    errors.push(`the card rendered nothing (element: ${result.rendered}, children: ${result.childCount}, height: ${result.height})`);
  const shown = result.text.replace(/\s+/g, " ");
  for (const t of mustShow) {
    if (!shown.includes(t.replace(/\s+/g, " "))) errors.push(`not shown in the rendered card: ${JSON.stringify(t)}`);
  }
  mkdirSync(dirname(shotPath), { recursive: true });
  if (result.rendered) await tab.locator("#card").screenshot({ path: shotPath });
} catch (e) {
  errors.push(`render.mjs: ${e.message}`);
} finally {
  await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}

if (result) {
  console.log(
    JSON.stringify({
      card: cardPath,
      adaptivecards: sdk,
      screenshot: result.rendered ? shotPath : null,
      card_version: result.cardVersion,
      max_version: maxVersion,
      events: result.events.length,
      checked_texts: mustShow.length,
      errors: errors.length,
    }),
  );
}
if (errors.length) {
  for (const e of errors) console.error(e);
  process.exit(1);
}
