/**
 * C in the editor while a kvm session is stopped: hovering a member chain
 * evaluates the whole chain (`rq->curr->comm`, not just `comm`), and the
 * lines of the current function show their variables' values at their ends
 * (setting `kvmdbg.inlineValues`). The text work is in c-source.ts; the
 * values come from the adapter (evaluate, and the Variables lookup VS Code
 * does for InlineValueVariableLookup).
 */
import * as vscode from 'vscode';
import { hoverExpression, inlineValueNames } from './c-source';

const C_FILES: vscode.DocumentSelector = [{ language: 'c' }, { language: 'cpp' }, { pattern: '**/*.{c,h}' }];

export function registerCLanguage(): vscode.Disposable[] {
  return [
    vscode.languages.registerEvaluatableExpressionProvider(C_FILES, {
      provideEvaluatableExpression(document, position) {
        const span = hoverExpression(document.lineAt(position.line).text, position.character);
        if (!span) return undefined;
        return new vscode.EvaluatableExpression(new vscode.Range(position.line, span.start, position.line, span.end), span.text);
      },
    }),
    vscode.languages.registerInlineValuesProvider(C_FILES, {
      provideInlineValues(document, _viewPort, context) {
        if (vscode.debug.activeDebugSession?.type !== 'kvm') return undefined;
        if (!vscode.workspace.getConfiguration('kvmdbg').get<boolean>('inlineValues', true)) return undefined;
        const lines: string[] = [];
        const last = Math.min(context.stoppedLocation.end.line, document.lineCount - 1);
        for (let l = 0; l <= last; l++) lines.push(document.lineAt(l).text);
        return inlineValueNames(lines, last).map((n) =>
          new vscode.InlineValueVariableLookup(new vscode.Range(n.line, n.start, n.line, n.end), n.name, true));
      },
    }),
  ];
}
