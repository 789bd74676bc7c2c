/**
 * Reports: accuracies with Wilson intervals and WordNet mistake severity, timm-like CSV, CLIP_benchmark-like JSON,
 * Markdown and self-contained HTML, written as one set.
 *
 * @example A Wilson interval
 * ```ts
 * import { wilson } from "./mod.ts";
 * const [lo, hi] = wilson(8, 10);
 * if (!(lo < 0.8 && hi > 0.8 && lo > 0.4 && hi < 1)) throw new Error(`${lo} ${hi}`);
 * ```
 *
 * @module
 */
export { type Accuracy, accuracy, type DomainSummary, summarizeDomains, wilson } from "./metrics.ts";
export { modelLabels, renderCsv, renderHtml, renderJson, renderMarkdown, writeReport } from "./write.ts";
export { csvCell, csvRow, mdText, plainText } from "./escape.ts";
