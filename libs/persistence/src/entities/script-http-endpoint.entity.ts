import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, OneToOne, PrimaryGeneratedColumn, Relation, Unique } from 'typeorm';
import { Script } from './script.entity';
import { Tenant } from './tenant.entity';

/** Seed 001: HTTP routing of `http` scripts (one endpoint per script). */
@Entity('script_http_endpoints')
@Unique('uq_endpoints_tenant_path', ['tenant_id', 'http_path'])
@Index('idx_http_endpoints_path', ['tenant_id', 'http_path'], { where: 'is_active = true' })
@Index('idx_http_endpoints_script', ['script_id'])
export class ScriptHttpEndpoint {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'uuid' })
  script_id: string;

  @OneToOne(() => Script, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'script_id' })
  script?: Relation<Script>;

  @Column({ type: 'uuid' })
  tenant_id: string;

  @ManyToOne(() => Tenant, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: Relation<Tenant>;

  @Column({ type: 'varchar', length: 500 })
  http_path: string;

  @Column({ type: 'text', array: true })
  http_methods: string[];

  @Column({ type: 'boolean', nullable: true, default: true })
  is_active: boolean | null;

  @CreateDateColumn({ type: 'timestamptz', nullable: true })
  created_at: Date | null;
}
