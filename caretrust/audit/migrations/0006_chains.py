"""The trail becomes several hash chains ("lanes") written side by side, each ending at a head.

One chain meant one lock, held by every audited request in the cluster from its audit INSERT to
its COMMIT: under load, requests queued on it. Each row now says which chain it belongs to; each
chain has its own head row (locked by its writer), its own genesis and its own no-fork
constraint. Rows written before this migration are chain 0, unchanged (the hash does not cover
the chain number, so they verify as they did), and chain 0's head starts at the last of them.
Heads are made here for the 64 chains AUDIT_CHAINS may ask for; record() makes any missing.
"""

from django.db import migrations, models

FORWARD = """
INSERT INTO audit_auditchainhead (chain, last_id, hash)
SELECT 0, id, hash FROM audit_auditevent ORDER BY id DESC LIMIT 1;
INSERT INTO audit_auditchainhead (chain, last_id, hash)
SELECT lane, NULL, repeat('0', 64) FROM generate_series(0, 63) AS lane
ON CONFLICT (chain) DO NOTHING;
CREATE FUNCTION audit_head_reject_removal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail''s chain heads cannot be removed: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_auditchainhead
    FOR EACH ROW EXECUTE FUNCTION audit_head_reject_removal();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_auditchainhead
    FOR EACH STATEMENT EXECUTE FUNCTION audit_head_reject_removal();
"""
BACKWARD = """
DROP TRIGGER audit_head_no_truncate ON audit_auditchainhead;
DROP TRIGGER audit_head_no_delete ON audit_auditchainhead;
DROP FUNCTION audit_head_reject_removal();
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_chain_no_fork_fewer_indexes")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="chain",
            field=models.SmallIntegerField(default=0),
        ),
        migrations.RemoveConstraint(model_name="auditevent", name="audit_chain_no_fork"),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(
                fields=["chain", "prev_hash"], name="audit_chain_no_fork"
            ),
        ),
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                ("chain", models.SmallIntegerField(primary_key=True, serialize=False)),
                ("last_id", models.BigIntegerField(null=True)),
                ("hash", models.CharField(max_length=64)),
            ],
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
