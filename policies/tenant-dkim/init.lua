-- Worked example (docs/messages.md): tenants from a header, unknown
-- tenants rejected, every accepted message DKIM-signed for its tenant.
--
-- Runs unmodified in kumod.  The absolute paths below are where a kumod
-- installation keeps these files; with kumopy, map them to this directory:
--
--   kumopy inject policies/tenant-dkim/init.lua policies/tenant-dkim/messages/acme.eml \
--     -f news@acme.example -r user@example.net \
--     --map /opt/kumomta/etc/policy=policies/tenant-dkim \
--     --map /opt/kumomta/etc/dkim=policies/tenant-dkim/keys
local kumo = require 'kumo'

-- { "<tenant>": { "domain": "<signing domain>", "selector": "<selector>" } }
local TENANTS = kumo.json_load '/opt/kumomta/etc/policy/tenants.json'

local TENANT_HEADER = 'X-Tenant'

kumo.on('init', function()
  kumo.start_esmtp_listener {
    listen = '0.0.0.0:25',
    hostname = 'mx.example.com',
    -- injectors on the local network may relay to anywhere
    relay_hosts = { '127.0.0.1', '10.0.0.0/8' },
  }
end)

-- The tenant travels in each message, so it is checked after DATA: a
-- rejection here refuses the whole transaction.
kumo.on('smtp_server_message_received', function(msg, conn_meta)
  local tenant = msg:get_first_named_header_value(TENANT_HEADER)
  if tenant == nil then
    kumo.reject(550, '5.7.1 missing ' .. TENANT_HEADER .. ' header')
  end
  local config = TENANTS[tenant]
  if config == nil then
    kumo.reject(550, '5.7.1 unknown tenant ' .. tenant)
  end

  -- the queue becomes "<tenant>@<recipient domain>"
  msg:set_meta('tenant', tenant)
  -- the header is internal: do not deliver it
  msg:remove_all_named_headers(TENANT_HEADER)

  local signer = kumo.dkim.ed25519_signer {
    domain = config.domain,
    selector = config.selector,
    headers = { 'From', 'To', 'Subject', 'Date', 'Message-ID' },
    key = string.format('/opt/kumomta/etc/dkim/%s/%s.key', config.domain, config.selector),
  }
  msg:dkim_sign(signer)
end)

-- every tenant gets its own retry schedule
kumo.on('get_queue_config', function(domain, tenant, campaign, routing_domain)
  return kumo.make_queue_config {
    retry_interval = tenant == 'globex' and '10m' or '20m',
  }
end)
