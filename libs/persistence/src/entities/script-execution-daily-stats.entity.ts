import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Executions of one script on one UTC day (of `started_at`), dry runs left out: kept in step with
 * `script_executions` by its statement triggers (migration 1763900011000), read by the analytics
 * dashboard. Derived data: written only by those triggers.
 */
@Entity('script_execution_daily_stats')
export class ScriptExecutionDailyStats {
  @PrimaryColumn({ type: 'uuid' })
  tenant_id: string;

  @PrimaryColumn({ type: 'date' })
  day: string;

  @PrimaryColumn({ type: 'uuid' })
  script_id: string;

  @Column({ type: 'bigint', default: 0 })
  executions: string;

  @Column({ type: 'bigint', default: 0 })
  successes: string;

  /** `failed` and `timeout`. */
  @Column({ type: 'bigint', default: 0 })
  failures: string;

  /** Finished executions with a `metrics.duration_ms`. */
  @Column({ type: 'bigint', default: 0 })
  durations: string;

  @Column({ type: 'double precision', default: 0 })
  duration_sum: number;

  @Column({ type: 'timestamptz', nullable: true })
  last_started_at: Date | null;
}
