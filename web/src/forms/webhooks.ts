// The admin page's webhook endpoint form (web/src/pages/admin/webhooks.tsx).
import type { AlertType, CreateWebhookInput } from '../../../worker/contracts/webhooks';
import { result, type Checked, type FieldErrors } from './index';

/** What the endpoint form holds: the URL as typed and the ticked event types. */
export interface WebhookForm {
  url: string;
  description: string;
  eventTypes: AlertType[];
  enabled: boolean;
}

export type WebhookField = 'url' | 'eventTypes' | 'description';

/** An http(s) URL without user or password, as the API takes it. */
function isWebhookUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password;
  } catch {
    return false;
  }
}

/** The endpoint form (new or existing endpoint): the body of POST / PUT /api/admin/webhooks. */
export function checkWebhook(form: WebhookForm): Checked<CreateWebhookInput, WebhookField> {
  const errors: FieldErrors<WebhookField> = {};
  const url = form.url.trim();
  if (!isWebhookUrl(url)) errors.url = 'URL: enter a full https:// address.';
  if (form.eventTypes.length === 0) errors.eventTypes = 'Events: pick at least one.';
  if (form.description.trim().length > 200) errors.description = 'Description: at most 200 characters.';
  return result(errors, () => ({ url, eventTypes: form.eventTypes, enabled: form.enabled, description: form.description.trim() }));
}
