// Moved to agent-core so the server parses policy crontab lines with the agent's own grammar.
export {
  CronFieldError,
  DAY_NAMES,
  FIELD_SPECS,
  type FieldSpec,
  fieldValue,
  fieldValues,
  MONTH_NAMES,
} from '@aspire/agent-core/cron';
