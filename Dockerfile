# The premiers-mois image: one image, each service started by `premiers-mois run NAME`.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY services ./services
RUN pip install --no-cache-dir .
COPY journeys ./journeys
COPY templates ./templates
RUN useradd --system --uid 10001 premiers-mois && mkdir -p /app/var && chown premiers-mois /app/var
USER premiers-mois
ENTRYPOINT ["premiers-mois"]
