# Production image of SPT Portal: one image, three roles (web, worker, cron) in docker-compose.yml.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=spt_portal.settings \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media

WORKDIR /app
# Uploaded files: a volume in docker-compose.yml, created owned by spt from this folder.
RUN useradd --create-home --uid 10001 spt && mkdir -p /app/media && chown spt:spt /app/media

COPY pyproject.toml README.md ./
COPY spt_portal spt_portal
COPY tickets tickets
COPY sla sla
COPY aws_integrations aws_integrations
COPY incidents incidents
COPY postmortems postmortems
RUN pip install --no-cache-dir .

COPY . .
# collectstatic needs a key to import settings; the real one comes from the environment.
RUN SECRET_KEY=build-only-not-secret python manage.py collectstatic --noinput -v 0

USER spt
EXPOSE 8000
CMD ["gunicorn", "spt_portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
