// /admin/tokens: the token billing dashboard. Admins read everything; superadmins also grant
// tokens and change settings, packages and webhook endpoints. Each section (a file beside this one) loads its own data.
import { useRef, useState } from 'preact/hooks';
import type { User } from '../../api';
import { useFocusWhen } from '../../components/ui';
import { AccountsSection } from './accounts';
import { AuditSection } from './audit';
import { BreakdownSection } from './breakdown';
import { DailySection } from './daily';
import { ExportSection } from './export';
import { GrantSection, type GrantHandle } from './grant';
import { MarginSection } from './margin';
import { StatsSection } from './overview';
import { PackagesSection } from './packages';
import { PricesSection } from './prices';
import { SettingsSection } from './settings';
import { SpendLimitsAdminSection, type SpendLimitsHandle } from './spend-limits';
import { WebhooksSection } from './webhooks';

const SECTIONS: [string, string][] = [
  ['stats', 'Overview'],
  ['usage-over-time', 'Usage'],
  ['breakdown', 'Models & operations'],
  ['margin', 'Margin in money'],
  ['accounts', 'Accounts'],
  ['grant', 'Grant tokens'],
  ['spend-limits', 'Spend limits'],
  ['settings', 'Settings'],
  ['packages', 'Packages'],
  ['webhooks', 'Webhooks'],
  ['prices', 'Prices'],
  ['audit', 'Audit log'],
  ['export', 'Export CSV'],
];

export function AdminPage(props: { user: User }) {
  const { user } = props;
  const h1 = useFocusWhen<HTMLHeadingElement>(true);
  const canRead = user.roles.includes('admin') || user.roles.includes('superadmin');
  const canWrite = user.roles.includes('superadmin');
  const grantRef = useRef<GrantHandle>(null);
  const limitsRef = useRef<SpendLimitsHandle>(null);
  const [accountsVersion, setAccountsVersion] = useState(0);

  if (!canRead) {
    return (
      <div class="page narrow">
        <h1 ref={h1} tabIndex={-1}>
          Not authorized
        </h1>
        <div class="notice notice-error" role="alert">
          <p>You are not authorized to view the token billing admin. Ask a superadmin for the admin role.</p>
        </div>
        <p>
          Go to <a href="/tokens">your tokens</a>.
        </p>
      </div>
    );
  }

  return (
    <div class="page admin">
      <div class="page-head">
        <h1 ref={h1} tabIndex={-1}>
          Token billing admin
        </h1>
        <span class={`badge ${canWrite ? 'badge-ok' : 'badge-muted'}`}>{canWrite ? 'Superadmin' : 'Admin · read-only'}</span>
      </div>
      <nav aria-label="Dashboard sections" class="toc">
        <ul>
          {SECTIONS.filter(([id]) => canWrite || (id !== 'grant' && id !== 'spend-limits')).map(([id, label]) => (
            <li key={id}>
              <a href={`#${id}`}>{label}</a>
            </li>
          ))}
        </ul>
      </nav>
      {!canWrite ? (
        <p class="notice notice-info">You can see everything here; changes (grants, settings, packages, prices) need the superadmin role.</p>
      ) : null}
      <StatsSection />
      <DailySection />
      <BreakdownSection />
      <MarginSection />
      <AccountsSection canWrite={canWrite} version={accountsVersion} onGrant={(a) => grantRef.current?.pick(a)} onLimits={(a) => limitsRef.current?.pick(a)} />
      {canWrite ? <GrantSection handle={grantRef} onGranted={() => setAccountsVersion((v) => v + 1)} /> : null}
      {canWrite ? <SpendLimitsAdminSection handle={limitsRef} /> : null}
      <SettingsSection canWrite={canWrite} />
      <PackagesSection canWrite={canWrite} />
      <WebhooksSection canWrite={canWrite} />
      <PricesSection canWrite={canWrite} />
      <AuditSection />
      <ExportSection />
    </div>
  );
}
