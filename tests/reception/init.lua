-- Test policy for the reception path (tests/test_reception.py,
-- test_inject.py, test_serve.py): every SMTP server event, with an
-- accepted and a rejected path each.  Settings come from a JSON file the
-- tests map into place.
local kumo = require 'kumo'

local CONFIG = kumo.json_load '/opt/kumomta/etc/policy/reception.json'

local function contains(list, value)
  for _, v in ipairs(list or {}) do
    if v == value then
      return true
    end
  end
  return false
end

kumo.on('smtp_server_connection_accepted', function(conn_meta)
  local peer = conn_meta:get_meta 'received_from'
  local ip = peer:match '^%[?([^%]]*)%]?:%d+$'
  if contains(CONFIG.blocked_peers, ip) then
    kumo.reject(550, '5.7.1 connections from ' .. ip .. ' are not welcome')
  end
  conn_meta:set_meta('screened', true)
end)

kumo.on('smtp_server_ehlo', function(domain, conn_meta, extensions)
  if domain == 'bad.example' then
    kumo.reject(550, '5.7.1 go away ' .. domain)
  end
  if domain == 'minimal.example' then
    return { 'PIPELINING', 'ENHANCEDSTATUSCODES' }
  end
end)

kumo.on('smtp_server_auth_plain', function(authz, authc, password, conn_meta)
  if authc == 'mallory' then
    kumo.reject(454, '4.7.0 try again later')
  end
  if authc == 'bob' and password == 'secret' then
    return { identities = { { identity = 'bob', context = 'SmtpAuthPlainAuthentication' } },
      groups = { 'staff' } }
  end
  return authc == 'alice' and password == 'secret'
end)

kumo.on('smtp_server_mail_from', function(sender, conn_meta)
  if sender.domain == 'spam.example' then
    kumo.reject(550, '5.7.1 sender ' .. tostring(sender) .. ' rejected')
  end
  if sender.domain == 'abuse.example' then
    kumo.disconnect(421, '4.7.0 bye')
  end
  conn_meta:set_meta('mail_from_seen', sender.email)
  local info = conn_meta:auth_info()
  conn_meta:set_meta('identity_count', #info.identities)
  conn_meta:set_meta('groups', info.groups)
end)

kumo.on('get_listener_domain', function(domain, listener, conn_meta)
  if domain == 'relay.example' then
    return kumo.make_listener_domain { relay_to = true }
  end
  if domain == 'corp.example' then
    return kumo.make_listener_domain { relay_from = { '10.0.0.0/8' } }
  end
  if domain == 'reports.example' then
    return kumo.make_listener_domain { log_arf = 'LogThenDrop', log_oob = 'LogThenDrop' }
  end
  if domain == 'broken.example' then
    error 'listener domain lookup failed'
  end
end)

kumo.on('smtp_server_rcpt_to', function(recipient, conn_meta)
  if recipient.user == 'nobody' then
    kumo.reject(550, '5.1.1 no such user ' .. recipient.email)
  end
end)

kumo.on('smtp_server_data', function(msg, conn_meta)
  if msg:get_first_named_header_value 'X-Block' then
    kumo.reject(554, '5.7.1 content blocked')
  end
  msg:set_meta('recipient_count', #msg:recipient_list())
end)

kumo.on('smtp_server_message_received', function(msg, conn_meta)
  local tenant = msg:get_first_named_header_value 'X-Tenant'
  if tenant == nil or not contains(CONFIG.tenants, tenant) then
    kumo.reject(550, '5.7.1 unknown tenant ' .. tostring(tenant))
  end
  msg:set_meta('tenant', tenant)
  msg:remove_all_named_headers 'X-Tenant'
  local campaign = msg:get_first_named_header_value 'X-Campaign'
  if campaign then
    msg:set_meta('campaign', campaign)
  end
  if msg:get_first_named_header_value 'X-Discard' then
    msg:set_meta('queue', 'null')
  end
  msg:append_header('X-Screened-By', conn_meta:get_meta 'hostname')
end)

kumo.on('smtp_server_rewrite_response', function(status, response, command, conn_meta)
  -- kumod passes the command line as the client sent it (smtplib: 'rcpt TO:<...>')
  if status == 550 and command and command:upper():find '^RCPT' then
    return nil, response .. ' (see https://example.com/policy)'
  end
end)

kumo.on('get_queue_config', function(domain, tenant, campaign, routing_domain)
  if tenant == 'broken' then
    error('no queue for tenant ' .. tenant)
  end
  return kumo.make_queue_config { retry_interval = '5m' }
end)

kumo.on('http_message_generated', function(msg, auth_info)
  local tenant = msg:get_first_named_header_value 'X-Tenant'
  if not contains(CONFIG.tenants, tenant) then
    kumo.reject(550, '5.7.1 unknown tenant ' .. tostring(tenant))
  end
  msg:set_meta('tenant', tenant)
  msg:set_meta('injected_by', msg:get_meta 'http_auth')
end)

kumo.on('requeue_message', function(msg, response, insert_context, increment_attempts, delay)
  if response:find 'mailbox full' then
    kumo.reject(550, '5.2.2 giving up: ' .. response)
  end
  if response:find 'throttled' then
    msg:set_meta('routing_domain', 'slow.example')
  end
end)

kumo.on('should_enqueue_log_record', function(msg, hook_name)
  if hook_name == 'webhook' then
    msg:set_meta('queue', 'webhook.example')
    return true
  end
  return false
end)
