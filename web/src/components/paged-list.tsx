import type { ComponentChildren, Ref } from 'preact';
import type { Paged } from '../hooks/use-paged';
import { Notice, Spinner } from './ui';

/**
 * The frame around a cursor-paged list: its error notice, an optional live region announcing
 * each page, the empty-state text or the list itself (`children`, drawn once there are items),
 * a spinner for the first page and the "load more" button. The button stays focusable while a
 * page loads (aria-disabled, not disabled) so keyboard focus is not thrown back to the page.
 */
export function PagedList<T>(props: {
  state: Paged<T>;
  /** Shown when the list is empty and nothing is loading or failed. */
  empty: ComponentChildren;
  /** The spinner's text while the first page loads. */
  loadingLabel: string;
  /** The "load more" button's text. */
  moreLabel: string;
  /** Text for a screen-reader-only live region; leave undefined for a list without one. */
  announce?: string | null;
  /** Wraps the empty text or list in a div with this ref (to move focus inside it). */
  bodyRef?: Ref<HTMLDivElement>;
  children: ComponentChildren;
}) {
  const { items, cursor, loading, error, load } = props.state;
  const body = items.length === 0 && !loading && !error ? <p class="empty">{props.empty}</p> : items.length > 0 ? props.children : null;
  return (
    <>
      <Notice tone="error" assertive>
        {error}
      </Notice>
      {props.announce !== undefined ? (
        <p class="sr-only" role="status">
          {props.announce}
        </p>
      ) : null}
      {props.bodyRef ? <div ref={props.bodyRef}>{body}</div> : body}
      {loading && !cursor ? <Spinner label={props.loadingLabel} /> : null}
      {cursor ? (
        <button type="button" class="btn btn-secondary" onClick={() => !loading && load(true)} aria-disabled={loading}>
          {loading ? 'Loading…' : props.moreLabel}
        </button>
      ) : null}
    </>
  );
}
