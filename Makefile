# The suite's commands. Odoo 18 must be importable by $(PYTHON); everything else
# (PostgreSQL cluster, Chromium, Python packages) is prepared by the scripts.
PYTHON ?= python3
export PYTHON

.PHONY: test demo lint test-pure test-odoo check-odoo pot screenshots devdb devdb-update devdb-stop

check-odoo:
	@$(PYTHON) -c 'import odoo' 2>/dev/null || { \
	  echo "ERROR: Odoo 18 is not importable by '$(PYTHON)'."; \
	  echo "  Install Odoo 18 so that 'import odoo' works there, or run: make $(MAKECMDGOALS) PYTHON=/path/to/python"; \
	  echo "  See README.md, section Prerequisite."; exit 2; }

## All tests: lint, framework-free tests, Odoo unit/HTTP tests and tours (Chromium).
test: check-odoo
	$(PYTHON) scripts/run_tests.py

## Only the Odoo tests matching TAGS (Odoo --test-tags syntax), e.g. make test-odoo TAGS=/crm_voip
test-odoo: check-odoo
	$(PYTHON) scripts/run_tests.py --test-tags "$(TAGS)"

## Lint and framework-free tests, no Odoo database.
test-pure: check-odoo
	$(PYTHON) scripts/run_tests.py --skip-odoo

lint:
	$(PYTHON) -m ruff check .

## A development database kept in .devdb/ for pytest-odoo: created once, then reused
## (starts its cluster again); prints the pytest command. See README.md, pytest-odoo.
devdb: check-odoo
	$(PYTHON) scripts/devdb.py up

## Upgrade modules of the development database after their models, views or data changed.
MODULES ?= crm_voip,crm_voip_routing,crm_voip_reports,crm_voip_dialer,crm_voip_callback,crm_voip_callback_website
devdb-update: check-odoo
	$(PYTHON) scripts/devdb.py update $(MODULES)

## Stop the development database's PostgreSQL cluster (make devdb starts it again).
devdb-stop:
	$(PYTHON) scripts/devdb.py stop

## The suite with demo data and live simulated calls on http://127.0.0.1:8069
## (PBX=uis, PBX=zadarma,telfin or PBX=all picks whose calls are played)
demo: check-odoo
	$(PYTHON) scripts/demo.py

## Regenerate every module's i18n/<module>.pot from a fresh database.
pot: check-odoo
	$(PYTHON) scripts/export_pot.py

## Refresh the screenshots of __manifest_docs__/ (taken by the browser tours).
screenshots: check-odoo
	CRM_VOIP_DOC_SCREENSHOTS=1 $(PYTHON) scripts/run_tests.py --test-tags \
	  /crm_voip:TestCrmVoipUi,/crm_voip_routing:TestLiveBoardUi,/crm_voip_reports:TestCrmVoipReportsUi,/crm_voip_reports:TestXlsxExport,/crm_voip_dialer:TestDialerUi
