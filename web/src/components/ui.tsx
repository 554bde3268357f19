import type { ComponentChildren, JSX, Ref } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/**
 * A live region that is always in the DOM (so screen readers announce changes to it) and
 * only drawn as a box when it has content. `tone` picks the colours; `assertive` uses role=alert.
 */
export function Notice(props: { tone: 'error' | 'success' | 'info' | 'warning' | 'critical'; assertive?: boolean; children?: ComponentChildren; id?: string; class?: string }) {
  const { tone, assertive, children, id } = props;
  const empty = children === undefined || children === null || children === false || children === '';
  return (
    <div id={id} class={`notice notice-${tone}${empty ? ' notice-empty' : ''}${props.class ? ' ' + props.class : ''}`} role={assertive ? 'alert' : 'status'}>
      {empty ? null : children}
    </div>
  );
}

export function Spinner(props: { label?: string }) {
  return (
    <p class="loading" role="status">
      <span class="spinner" aria-hidden="true" />
      {props.label ?? 'Loading…'}
    </p>
  );
}

/** Puts focus on the element when `when` becomes true (used for page headings and error summaries). */
export function useFocusWhen<T extends HTMLElement>(when: unknown) {
  const ref = useRef<T>(null);
  useEffect(() => {
    if (when) ref.current?.focus();
  }, [when]);
  return ref;
}

export function Field(props: { id: string; label: string; hint?: ComponentChildren; error?: string | null; children: ComponentChildren; class?: string }) {
  return (
    <div class={`field${props.class ? ' ' + props.class : ''}`}>
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint ? (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      ) : null}
      {props.error ? (
        <p class="field-error" id={`${props.id}-error`}>
          {props.error}
        </p>
      ) : null}
    </div>
  );
}

/** aria-describedby for a Field's input. */
export const describedBy = (id: string, hint?: unknown, error?: unknown) => [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;

/**
 * The id and ARIA of a Field's input, spread onto it: `<input {...fieldAria('x', errors.x)} />`.
 * Pass `hint` when the Field shows one, so the input names it too.
 */
export const fieldAria = (id: string, error?: string | null, hint?: unknown) => ({
  id,
  'aria-invalid': error ? (true as const) : undefined,
  'aria-describedby': describedBy(id, hint, error),
});

/** An editor form's buttons: save (`Saving…` while busy) and cancel. */
export function EditorActions(props: { busy: boolean; save: string; onCancel: () => void }) {
  return (
    <div class="actions">
      <button type="submit" class="btn btn-primary" disabled={props.busy}>
        {props.busy ? 'Saving…' : props.save}
      </button>
      <button type="button" class="btn btn-quiet" onClick={props.onCancel}>
        Cancel
      </button>
    </div>
  );
}

/** A table's name cell: the name, with its description under it as a hint when there is one. */
export function NameCell(props: { children: ComponentChildren; description?: string | null }) {
  return (
    <>
      {props.children}
      {props.description ? <span class="hint block">{props.description}</span> : null}
    </>
  );
}

/** A DataTable row's attributes: greyed out unless `on` (an inactive package, a disabled endpoint). */
export const inactiveUnless = (on: boolean) => ({ class: on ? undefined : 'inactive' });

/** One column of a DataTable. */
export interface Column<T> {
  label: string;
  /** The header is for screen readers only (e.g. a column of buttons). */
  hiddenLabel?: boolean;
  /** Right-aligned number. */
  num?: boolean;
  /** This column's cell is the row's header (`<th scope="row">`). */
  rowHeader?: boolean;
  /** Stack tables: show the label beside the value when phones lay rows out as cards. */
  cardLabel?: boolean;
  class?: string | ((row: T) => string | undefined);
  cell: (row: T) => ComponentChildren;
}

/**
 * A scrollable, labelled table. `stack` adds explicit ARIA roles, which keep the table
 * semantics when small screens lay rows out as cards. Falsy columns are left out (e.g. an
 * actions column for admins who may not write).
 */
export function DataTable<T>(props: {
  label: string;
  caption?: string;
  testId?: string;
  class?: string;
  stack?: boolean;
  wrap?: boolean;
  columns: (Column<T> | false | null | undefined)[];
  rows: T[];
  rowKey: (row: T) => string | number;
  rowAttrs?: (row: T) => Record<string, string | undefined>;
}) {
  const cols = props.columns.filter((c): c is Column<T> => !!c);
  const role = (r: JSX.AriaRole) => (props.stack ? r : undefined);
  const classOf = (c: Column<T>, row: T) => [c.num ? 'num' : '', (typeof c.class === 'function' ? c.class(row) : c.class) ?? ''].filter(Boolean).join(' ') || undefined;
  const table = (
    <table class={props.class} data-testid={props.testId} role={role('table')}>
      {props.caption ? <caption>{props.caption}</caption> : null}
      <thead role={role('rowgroup')}>
        <tr role={role('row')}>
          {cols.map((c) => (
            <th key={c.label} scope="col" role={role('columnheader')} class={c.num ? 'num' : undefined}>
              {c.hiddenLabel ? <span class="sr-only">{c.label}</span> : c.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody role={role('rowgroup')}>
        {props.rows.map((row) => (
          <tr key={props.rowKey(row)} role={role('row')} {...(props.rowAttrs?.(row) ?? {})}>
            {cols.map((c) =>
              c.rowHeader ? (
                <th key={c.label} scope="row" role={role('rowheader')} class={classOf(c, row)}>
                  {c.cell(row)}
                </th>
              ) : (
                <td key={c.label} role={role('cell')} class={classOf(c, row)} data-label={props.stack && c.cardLabel ? c.label : undefined}>
                  {c.cell(row)}
                </td>
              ),
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
  return props.wrap === false ? table : <TableWrap label={props.label}>{table}</TableWrap>;
}

/** A horizontally scrollable, keyboard-focusable wrapper for wide tables on phones (a region named "<label> table"). */
export function TableWrap(props: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" role="region" aria-label={`${props.label} table`} tabIndex={0}>
      {props.children}
    </div>
  );
}

export function Section(props: { id?: string; title: string; headingRef?: Ref<HTMLHeadingElement>; actions?: ComponentChildren; children: ComponentChildren; class?: string }) {
  const hid = `${props.id ?? props.title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-title`;
  return (
    <section id={props.id} class={`card${props.class ? ' ' + props.class : ''}`} aria-labelledby={hid}>
      <div class="card-head">
        <h2 id={hid} tabIndex={-1} ref={props.headingRef}>
          {props.title}
        </h2>
        {props.actions}
      </div>
      {props.children}
    </section>
  );
}
