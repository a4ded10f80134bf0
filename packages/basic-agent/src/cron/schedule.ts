// Moved to agent-core so the server parses policy crontab lines with the agent's own grammar.
export { Schedule, ScheduleError } from '@aspire/agent-core/cron';
