// The credit grants of one account, as the user (/tokens) and admins (/admin/tokens) see them.
import type { GrantsAnswer, GrantView } from '../api';
import * as f from '../format';

/** "12,000 promotional tokens expire on Jan 1, 2027" / "5,000 paid tokens, no expiry". */
export function grantLine(g: GrantView): string {
  const what = `${f.tokens(g.remaining)} ${g.category} tokens`;
  return g.expiresAt === null ? `${what}, no expiry` : `${what} expire on ${f.day(g.expiresAt)}`;
}

/**
 * The grants with something left, in the order usage spends them (promotional first, then the
 * earliest expiry, then the oldest), and any debt the next purchase repays first.
 */
export function GrantList(props: { answer: GrantsAnswer; empty: string; testId: string }) {
  const { grants, debt } = props.answer;
  return (
    <div data-testid={props.testId}>
      {grants.length === 0 ? <p class="muted">{props.empty}</p> : null}
      {grants.length > 0 ? (
        <ol class="grant-list">
          {grants.map((g) => (
            <li key={g.id}>
              <strong>{grantLine(g)}</strong>
              {g.remaining !== g.amount ? <span class="muted"> (of {f.tokens(g.amount)})</span> : null}
              {g.description ? <span class="muted"> · {g.description}</span> : null}
            </li>
          ))}
        </ol>
      ) : null}
      {debt > 0 ? <p class="field-error">{f.tokens(debt)} tokens owed: the next tokens added repay them first.</p> : null}
    </div>
  );
}
