"""PostgreSQL numbers a new ticket itself: a BEFORE INSERT trigger writes TKT-000123 from the
row's id when the number is empty, so opening a ticket is one INSERT (it was a nextval()
and the INSERT; before that, an INSERT and an UPDATE of the number). Other databases
(SQLite, the quick start) keep the insert-then-update in tickets.services.ticket_create.
The formula is the one of tickets.services.ticket_number; a test compares the two."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION tickets_ticket_number() RETURNS trigger AS $$
BEGIN
    IF NEW.number IS NULL OR NEW.number = '' THEN
        NEW.number := 'TKT-' || CASE WHEN NEW.id < 1000000
            THEN lpad(NEW.id::text, 6, '0') ELSE NEW.id::text END;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER tickets_ticket_number BEFORE INSERT ON tickets_ticket
    FOR EACH ROW EXECUTE FUNCTION tickets_ticket_number();
"""

DROP = """
DROP TRIGGER IF EXISTS tickets_ticket_number ON tickets_ticket;
DROP FUNCTION IF EXISTS tickets_ticket_number();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0008_inbound_message_id_index")]

    operations = [migrations.RunPython(create, drop)]
