/**
 * A windowed list of fixed-height rows: only the rows in view (plus a margin) are in the DOM,
 * so 5,000 tables scroll and filter as smoothly as 50.
 */
import * as React from 'react';

export interface IVirtualListProps<T> {
  items: ReadonlyArray<T>;
  rowHeight: number;
  /** Index of the row to keep in view (keyboard focus). */
  activeIndex: number;
  renderRow: (item: T, index: number) => JSX.Element;
  className?: string;
  onKeyDown?: (event: React.KeyboardEvent<HTMLDivElement>) => void;
  role?: string;
  label?: string;
  overscan?: number;
}

export function VirtualList<T>(props: IVirtualListProps<T>): JSX.Element {
  const { items, rowHeight, activeIndex, overscan = 8 } = props;
  const ref = React.useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = React.useState(0);
  const [height, setHeight] = React.useState(400);

  React.useEffect(() => {
    const node = ref.current;
    if (!node) {
      return;
    }
    const observer = new ResizeObserver(() => setHeight(node.clientHeight || 400));
    observer.observe(node);
    setHeight(node.clientHeight || 400);
    return () => observer.disconnect();
  }, []);

  // Keep the active row in view when the keyboard moves it.
  React.useEffect(() => {
    const node = ref.current;
    if (!node || activeIndex < 0) {
      return;
    }
    const top = activeIndex * rowHeight;
    if (top < node.scrollTop) {
      node.scrollTop = top;
    } else if (top + rowHeight > node.scrollTop + node.clientHeight) {
      node.scrollTop = top + rowHeight - node.clientHeight;
    }
  }, [activeIndex, rowHeight]);

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(items.length, Math.ceil((scrollTop + height) / rowHeight) + overscan);
  const rows: JSX.Element[] = [];
  for (let i = first; i < last; i++) {
    rows.push(
      <div
        key={i}
        className="jp-agnes-vrow"
        style={{ position: 'absolute', top: i * rowHeight, height: rowHeight, left: 0, right: 0 }}
      >
        {props.renderRow(items[i], i)}
      </div>
    );
  }
  return (
    <div
      ref={ref}
      className={`jp-agnes-vlist ${props.className ?? ''}`}
      tabIndex={0}
      role={props.role}
      aria-label={props.label}
      onKeyDown={props.onKeyDown}
      onScroll={e => setScrollTop((e.target as HTMLDivElement).scrollTop)}
    >
      <div style={{ position: 'relative', height: items.length * rowHeight }}>{rows}</div>
    </div>
  );
}
