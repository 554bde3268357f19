// The admin page's webhook endpoint form (web/src/pages/admin/webhooks.tsx).
import { createWebhookSchema, type AlertType, type CreateWebhookInput } from '../../../worker/contracts/webhooks';
import { validateWith, type Checked } from './index';

/** What the endpoint form holds: the URL as typed and the ticked event types. */
export interface WebhookForm {
  url: string;
  description: string;
  eventTypes: AlertType[];
  enabled: boolean;
}

export type WebhookField = 'url' | 'eventTypes' | 'description';

/** The endpoint form (new or existing endpoint): the body of POST / PUT /api/admin/webhooks, validated with the route's schema. */
export function checkWebhook(form: WebhookForm): Checked<CreateWebhookInput, WebhookField> {
  const body: CreateWebhookInput = { url: form.url.trim(), eventTypes: form.eventTypes, enabled: form.enabled, description: form.description.trim() };
  return validateWith(createWebhookSchema, body, {
    url: { key: 'url', message: 'URL: enter a full https:// address.' },
    eventTypes: { key: 'eventTypes', message: 'Events: pick at least one.' },
    description: { key: 'description', message: 'Description: at most 200 characters.' },
  });
}
