/**
 * The one error the expression language throws: a sentence for the user
 * (the debug console, a hover, a breakpoint's "could not be evaluated").
 * Anything else escaping the evaluator is a bug (the fuzz test says so).
 */
export class ExprError extends Error {}
