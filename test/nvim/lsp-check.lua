-- Run by test/nvim.test.ts as `nvim --headless --clean -u lsp-check.lua FILE`:
-- editors/nvim (ftdetect and lua/dlg.lua) on the runtimepath, dlg's server
-- started the way a user's init.lua would, then, once FILE is open, wait
-- for its diagnostics, ask for a hover, write what arrived as JSON to
-- $DLG_NVIM_OUT and quit. Parameters come in the environment:
-- DLG_NVIM_ROOT (the dlg checkout), DLG_NVIM_OUT, DLG_NVIM_HOVER ("line:col", 0-based).

local root = vim.env.DLG_NVIM_ROOT
vim.opt.runtimepath:prepend(root .. "/editors/nvim")
require("dlg").setup({ cmd = { "node", root .. "/bin/dlg.js", "lsp", "--stdio" } })

local function finish(result)
  local out = io.open(vim.env.DLG_NVIM_OUT, "w")
  out:write(vim.fn.json_encode(result))
  out:close()
  vim.cmd("qall!")
end

vim.api.nvim_create_autocmd("VimEnter", {
  callback = function()
    local result = { filetype = vim.bo.filetype, errors = {} }
    local got = vim.wait(20000, function()
      return #vim.diagnostic.get(0) > 0
    end, 50)
    if not got then
      table.insert(result.errors, "no diagnostics within 20 s")
    end
    result.diagnostics = {}
    for _, d in ipairs(vim.diagnostic.get(0)) do
      local lsp = d.user_data and d.user_data.lsp or {}
      table.insert(result.diagnostics, {
        lnum = d.lnum,
        col = d.col,
        message = d.message,
        severity = d.severity,
        code = d.code or lsp.code,
      })
    end
    local line, col = vim.env.DLG_NVIM_HOVER:match("^(%d+):(%d+)$")
    local params = {
      textDocument = { uri = vim.uri_from_bufnr(0) },
      position = { line = tonumber(line), character = tonumber(col) },
    }
    local responses, err = vim.lsp.buf_request_sync(0, "textDocument/hover", params, 10000)
    if err then
      table.insert(result.errors, "hover: " .. tostring(err))
    end
    result.hovers = {}
    for _, response in pairs(responses or {}) do
      if response.err then
        table.insert(result.errors, "hover: " .. vim.inspect(response.err))
      elseif response.result ~= nil then
        table.insert(result.hovers, response.result.contents)
      end
    end
    finish(result)
  end,
})
