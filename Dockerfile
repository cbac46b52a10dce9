# syntax=docker/dockerfile:1
FROM node:20-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock \
    && useradd --system --home /app caretrust
COPY --from=assets /app/node_modules ./node_modules
COPY . .
# collectstatic needs settings but no database or secrets of the deployment.
RUN SECRET_KEY=build-only DATABASE_URL=postgres://build@localhost/build \
    python manage.py collectstatic --no-input -v0
USER caretrust
EXPOSE 8000
CMD ["gunicorn", "caretrust.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
