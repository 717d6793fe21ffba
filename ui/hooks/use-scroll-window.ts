/**
 * The first visible index of a windowed list: it moves only as far as needed to keep the
 * selection in view, so the list does not jump when rows are added.
 */
import { useRef } from 'react';

export function useScrollWindow(selected: number, count: number, height: number): number {
  const top = useRef(0);
  top.current = scrollTop(top.current, selected, count, height);
  return top.current;
}

export function scrollTop(previous: number, selected: number, count: number, height: number): number {
  let t = previous;
  if (selected >= 0) {
    if (selected < t) t = selected;
    if (selected >= t + height) t = selected - height + 1;
  }
  return Math.max(0, Math.min(t, Math.max(0, count - height)));
}
