// Shapes of the /api/admin answers this page reads: the Worker's contracts, types only.
export type {
  AdminAccount as AccountRow,
  AdminPackagesAnswer,
  AdminStats as Stats,
  AuditItem as AuditEntry,
  BreakdownTotals,
  DailyAnswer,
  ModelsAnswer,
  OperationsAnswer,
  PackageView,
} from '../../../../worker/contracts/admin';
export type { SettingsAnswer } from '../../../../worker/contracts/settings';
export type { DeliveriesPage, WebhookCreatedAnswer, WebhookDelivery, WebhookEndpoint, WebhookEndpointsAnswer } from '../../../../worker/contracts/webhooks';
