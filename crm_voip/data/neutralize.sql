-- A copied database must never place calls or accept the production PBX's webhooks.
UPDATE crm_voip_provider
   SET use_simulator = true,
       api_key = NULL,
       api_secret = NULL,
       webhook_secret = NULL,
       webhook_token = md5(random()::text || id::text);
