/**
 * How much of a value is read for one view of it (delve's LoadConfig): a
 * stop shows dozens of variables, each of which may be a 4 KB struct or a
 * pointer into a linked list, so summaries are cut short and the user
 * expands (VS Code asks for the rest in pages).
 */
export interface LoadConfig {
  /** Characters of a C string shown before `...`. */
  maxStringLength: number;
  /** Array elements returned by one children request (VS Code pages past 100 itself). */
  maxArrayValues: number;
  /** Members or elements in a one-line `{a = 1, b = 2, ...}` summary. */
  maxSummaryItems: number;
  /** Characters of a summary before it is cut with `...`. */
  maxSummaryLength: number;
  /** Nesting shown inside a summary; deeper aggregates are `{...}`. */
  maxSummaryDepth: number;
}

export const DEFAULT_LOAD_CONFIG: LoadConfig = {
  maxStringLength: 200,
  maxArrayValues: 100,
  maxSummaryItems: 8,
  maxSummaryLength: 100,
  maxSummaryDepth: 1,
};

export function loadConfig(partial?: Partial<LoadConfig>): LoadConfig {
  return partial ? { ...DEFAULT_LOAD_CONFIG, ...partial } : DEFAULT_LOAD_CONFIG;
}
