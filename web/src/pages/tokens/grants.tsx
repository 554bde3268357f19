import { get, type GrantsAnswer } from '../../api';
import { GrantList } from '../../components/grants';
import { Section, Spinner } from '../../components/ui';
import { useLoad } from '../../hooks/use-load';

/** "Your tokens": what each credit left, spent in order (promotional first, earliest expiry next). */
export function GrantsSection(props: { version: number }) {
  const { data, error } = useLoad(() => get<GrantsAnswer>('/api/account/grants'), [props.version]);
  return (
    <Section id="grants" title="Your tokens">
      <p class="muted">Usage spends promotional tokens first, then those that expire soonest, then the oldest.</p>
      {error ? <p class="field-error">Your grants could not be loaded: {error}</p> : null}
      {!data && !error ? <Spinner label="Loading your grants…" /> : null}
      {data ? <GrantList answer={data} testId="grants" empty="No tokens left." /> : null}
    </Section>
  );
}
