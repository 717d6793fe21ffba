/**
 * A session's findings in full, as lines of at most `width` columns: for each, its severity,
 * rule and title, where on the path it is and who answered there, why, the fix, and the
 * evidence with the seqs of the events it rests on (the log has them). Nothing is cut; the
 * findings screen scrolls instead.
 */
import type { FindingView } from '../store/types.js';
import { wrapToWidth } from './display-width.js';

export interface FindingLine {
  text: string;
  kind: 'title' | 'label' | 'text' | 'gap';
  severity: string;
}

export function findingLines(findings: readonly FindingView[], width: number): FindingLine[] {
  const lines: FindingLine[] = [];
  findings.forEach((f, i) => {
    const push = (text: string, kind: FindingLine['kind']): void => {
      lines.push({ text, kind, severity: f.severity });
    };
    if (i > 0) push('', 'gap');
    for (const l of wrapToWidth(`[${f.severity}] ${f.rule}: ${f.title}`, width)) push(l, 'title');
    const section = (label: string, text: string): void => {
      if (!text) return;
      push(`  ${label}`, 'label');
      for (const l of wrapToWidth(text, width - 4)) push(`    ${l}`, 'text');
    };
    section('where', f.hop);
    section('why', f.explanation);
    section('fix', f.fix);
    if (f.evidence.length > 0 || f.evidenceSeqs.length > 0) {
      push('  evidence', 'label');
      for (const fact of f.evidence) wrapToWidth(fact, width - 6).forEach((l, j) => push(`    ${j === 0 ? '- ' : '  '}${l}`, 'text'));
      if (f.evidenceSeqs.length > 0) {
        for (const l of wrapToWidth(`events ${f.evidenceSeqs.map((s) => `#${s}`).join(' ')} (seq in the log)`, width - 4)) push(`    ${l}`, 'text');
      }
    }
  });
  return lines;
}
