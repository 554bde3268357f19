import { useRef, useState } from 'preact/hooks';
import { get, post, type GrantsAnswer } from '../../api';
import { GrantList } from '../../components/grants';
import { Field, Notice, Section, fieldAria } from '../../components/ui';
import * as f from '../../format';
import { checkGrant } from '../../forms/admin';
import { useForm } from '../../hooks/use-form';
import { useLoad } from '../../hooks/use-load';
import type { AccountRow } from './types';

/** Lets the accounts table fill in the grant form ("Grant tokens" on a row). */
export interface GrantHandle {
  pick: (a: AccountRow) => void;
}

/** "Grant tokens" (superadmins): tokens for one user, with a reason for the audit log. */
export function GrantSection(props: { handle: { current: GrantHandle | null }; onGranted: () => void }) {
  const [userId, setUserId] = useState('');
  const [who, setWho] = useState<string | null>(null);
  const [amount, setAmount] = useState('');
  const [reason, setReason] = useState('');
  const [category, setCategory] = useState<'promotional' | 'paid'>('promotional');
  const [expiresOn, setExpiresOn] = useState('');
  // The account whose grants are shown under the form: the one picked, or the last one granted to.
  const [shown, setShown] = useState<{ userId: string; version: number } | null>(null);
  const grants = useLoad(() => (shown ? get<GrantsAnswer>(`/api/admin/accounts/${encodeURIComponent(shown.userId)}/grants`) : Promise.resolve(null)), [shown?.userId, shown?.version]);
  const { errors, error, done, setDone, busy, submit } = useForm<'user' | 'amount' | 'reason' | 'expiresOn'>();
  const amountRef = useRef<HTMLInputElement>(null);

  props.handle.current = {
    pick: (a) => {
      setUserId(a.userId);
      setWho(a.email ?? a.userId);
      setShown({ userId: a.userId, version: 0 });
      setDone(null);
      document.getElementById('grant')?.scrollIntoView({ block: 'start' });
      amountRef.current?.focus();
    },
  };

  const onSubmit = (e: Event) => {
    e.preventDefault();
    void submit(checkGrant({ userId, amount, reason, category, expiresOn }), async (body) => {
      await post('/api/admin/grants', body);
      setAmount('');
      setReason('');
      setExpiresOn('');
      setShown((s) => ({ userId: body.userId, version: (s?.version ?? 0) + 1 }));
      props.onGranted();
      return `Granted ${f.tokens(body.amount)} tokens to ${who ?? body.userId}.`;
    });
  };

  return (
    <Section id="grant" title="Grant tokens">
      <Notice tone="error" assertive>
        {error}
      </Notice>
      <Notice tone="success">{done}</Notice>
      <form onSubmit={onSubmit} noValidate class="form-grid" aria-label="Grant tokens">
        <Field id="grant-user" label="User id" hint={who ? `Selected: ${who}` : 'Pick an account with “Grant tokens”, or paste a user id.'} error={errors.user}>
          <input
            {...fieldAria('grant-user', errors.user, true)}
            type="text"
            class="mono"
            value={userId}
            onInput={(e) => {
              setUserId(e.currentTarget.value);
              setWho(null);
            }}
          />
        </Field>
        <Field id="grant-amount" label="Tokens" error={errors.amount}>
          <input
            ref={amountRef}
            {...fieldAria('grant-amount', errors.amount)}
            type="number"
            min={1}
            step={1}
            inputMode="numeric"
            value={amount}
            onInput={(e) => setAmount(e.currentTarget.value)}
          />
        </Field>
        <Field id="grant-reason" label="Reason" error={errors.reason} class="span-2">
          <input
            {...fieldAria('grant-reason', errors.reason)}
            type="text"
            maxLength={500}
            value={reason}
            onInput={(e) => setReason(e.currentTarget.value)}
          />
        </Field>
        <Field id="grant-category" label="Category" hint="Promotional tokens are spent before paid ones.">
          <select {...fieldAria('grant-category', null, true)} value={category} onChange={(e) => setCategory(e.currentTarget.value as 'promotional' | 'paid')}>
            <option value="promotional">Promotional</option>
            <option value="paid">Paid</option>
          </select>
        </Field>
        <Field id="grant-expires" label="Expires on (UTC)" hint="Empty: the default from Settings." error={errors.expiresOn}>
          <input {...fieldAria('grant-expires', errors.expiresOn, true)} type="date" value={expiresOn} onInput={(e) => setExpiresOn(e.currentTarget.value)} />
        </Field>
        <div class="span-2">
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {busy ? 'Granting…' : 'Grant tokens'}
          </button>
        </div>
      </form>
      {shown && grants.data ? (
        <div class="grant-account">
          <h3>Grants of {who ?? shown.userId}</h3>
          <GrantList answer={grants.data} testId="admin-grants" empty="No tokens left." />
        </div>
      ) : null}
      {grants.error ? <p class="field-error">Grants could not be loaded: {grants.error}</p> : null}
    </Section>
  );
}
