import { useRef, useState } from 'preact/hooks';
import { post } from '../../api';
import { Field, Notice, Section, fieldAria } from '../../components/ui';
import * as f from '../../format';
import { checkGrant } from '../../forms/admin';
import { useForm } from '../../hooks/use-form';
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
  const { errors, error, done, setDone, busy, submit } = useForm<'user' | 'amount' | 'reason'>();
  const amountRef = useRef<HTMLInputElement>(null);

  props.handle.current = {
    pick: (a) => {
      setUserId(a.userId);
      setWho(a.email ?? a.userId);
      setDone(null);
      document.getElementById('grant')?.scrollIntoView({ block: 'start' });
      amountRef.current?.focus();
    },
  };

  const onSubmit = (e: Event) => {
    e.preventDefault();
    void submit(checkGrant({ userId, amount, reason }), async (body) => {
      await post('/api/admin/grants', body);
      setAmount('');
      setReason('');
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
        <div class="span-2">
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {busy ? 'Granting…' : 'Grant tokens'}
          </button>
        </div>
      </form>
    </Section>
  );
}
