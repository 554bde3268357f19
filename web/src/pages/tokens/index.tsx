// /tokens: a user's balance, buying tokens, usage, auto-recharge and transaction history.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errorMessage, get, type Account, type AutoRecharge, type PackagesAnswer, type User } from '../../api';
import { Notice, Spinner, useFocusWhen } from '../../components/ui';
import { useLoad } from '../../hooks/use-load';
import { AutoRechargeForm } from './auto-recharge';
import { BalanceCard, CardFailedNotice } from './balance';
import { BuySection } from './buy';
import { GrantsSection } from './grants';
import { useCheckoutReturn } from './checkout';
import { TransactionsSection } from './transactions';
import { UsageSection } from './usage';

const reducedMotion = () => matchMedia('(prefers-reduced-motion: reduce)').matches;

export function TokensPage(_props: { user: User }) {
  const h1 = useFocusWhen<HTMLHeadingElement>(true);
  const [account, setAccount] = useState<Account | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [txVersion, setTxVersion] = useState(0);
  const buyHeading = useRef<HTMLHeadingElement>(null);

  const loadAccount = useCallback(async () => {
    try {
      const a = await get<Account>('/api/account');
      setAccount(a);
      setLoadError(null);
      return a;
    } catch (e) {
      setLoadError(errorMessage(e));
      return null;
    }
  }, []);

  useEffect(() => {
    loadAccount();
  }, []);
  const pkgs = useLoad(() => get<PackagesAnswer>('/api/packages'), []);
  const { checkout, note } = useCheckoutReturn(async () => {
    await loadAccount();
    setTxVersion((v) => v + 1);
  });

  const goBuy = () => {
    const el = document.getElementById('buy');
    el?.scrollIntoView({ behavior: reducedMotion() ? 'auto' : 'smooth', block: 'start' });
    buyHeading.current?.focus({ preventScroll: true });
  };

  const onSaved = (ar: AutoRecharge) => setAccount((a) => (a ? { ...a, autoRecharge: { ...a.autoRecharge, ...ar } } : a));

  return (
    <div class="page">
      <h1 ref={h1} tabIndex={-1}>
        Tokens
      </h1>
      <Notice tone={checkout === 'success' ? 'success' : 'info'}>{note}</Notice>
      <Notice tone="error" assertive>
        {loadError ? `Your account could not be loaded: ${loadError}` : null}
      </Notice>
      {account ? <CardFailedNotice account={account} minimumCents={pkgs.data?.minimumPurchaseCents ?? 500} /> : null}
      {account ? <BalanceCard account={account} onBuy={goBuy} /> : loadError ? null : <Spinner label="Loading your balance…" />}
      {account ? <GrantsSection version={txVersion} /> : null}
      <BuySection pkgs={pkgs.data} error={pkgs.error} headingRef={buyHeading} />
      <div class="grid-2">
        <UsageSection />
        {account ? <AutoRechargeForm account={account} pkgs={pkgs.data} onSaved={onSaved} /> : null}
      </div>
      <TransactionsSection version={txVersion} />
    </div>
  );
}
