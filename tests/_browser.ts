/** Headless Chromium for the report tests: run it, and check a page's layout and network use. */
import { ok as assert } from "node:assert/strict";

/** Whether Debian's chromium is installed. */
export const chromium: boolean = await (async () => {
  try {
    const out = await new Deno.Command("chromium", { args: ["--version"], stdout: "piped", stderr: "null" }).output();
    return out.success;
  } catch {
    return false;
  }
})();
if (!chromium) console.warn("SKIP report browser test: chromium is not installed (apt-get install chromium)");

/** Runs headless Chromium with `args`. */
export async function headless(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const out = await new Deno.Command("chromium", {
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--hide-scrollbars",
      "--enable-logging=stderr",
      "--v=0",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { stdout: new TextDecoder().decode(out.stdout), stderr: new TextDecoder().decode(out.stderr) };
}

/** Appended to a copy of a page: after load, lists elements that reach past the viewport and non-inline fetches. */
const LAYOUT_CHECK = `<script>
addEventListener("load", () => {
  const vw = document.documentElement.clientWidth, bad = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5)) bad.push(el.tagName + (el.id ? "#" + el.id : "") + "@" + Math.round(r.right));
  }
  const fetched = performance.getEntriesByType("resource").map((e) => e.name).filter((u) => !/^(data|file):/.test(u));
  const pre = document.createElement("pre");
  pre.id = "layout-check";
  pre.textContent = JSON.stringify({ vw, scroll: document.documentElement.scrollWidth, bad: bad.slice(0, 10), fetched });
  document.body.append(pre);
});
</script>`;

/**
 * Opens `html` (saved as `dir/name`) at `width` px and reports what reaches past the viewport and what it fetched
 * other than data: and file: URLs.
 */
export async function layout(dir: string, html: string, name: string, width: number) {
  const page = `${dir}/${name}`;
  await Deno.writeTextFile(page, html.replace("</body>", `${LAYOUT_CHECK}</body>`));
  const { stdout } = await headless([`--window-size=${width},900`, "--dump-dom", `file://${page}`]);
  const m = stdout.match(/<pre id="layout-check">(.*?)<\/pre>/s);
  assert(m, `no layout result for ${name}`);
  return JSON.parse(
    m[1]!.replace(/&quot;/g, '"').replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">"),
  ) as {
    vw: number;
    scroll: number;
    bad: string[];
    fetched: string[];
  };
}
