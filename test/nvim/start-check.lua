-- The 0.8+ path of lua/dlg.lua, run on any Neovim: vim.lsp.start is replaced
-- by a recorder, and a dlg buffer that is not the current one gets its
-- filetype. The recorder notes the config it was given, the bufnr, and which
-- buffer was current (0.8.0's vim.lsp.start ignores opts.bufnr and attaches
-- the current one; Neovim runs a buffer's FileType autocmd with it current);
-- the result goes to $DLG_NVIM_OUT as JSON.
vim.opt.runtimepath:append(vim.env.DLG_NVIM_ROOT .. "/editors/nvim")
local calls = {}
vim.lsp.start = function(config, opts)
  table.insert(calls, {
    current = vim.api.nvim_get_current_buf(),
    bufnr = opts and opts.bufnr or vim.NIL,
    name = config.name,
    cmd = config.cmd,
    root_dir = config.root_dir,
  })
  return 1
end
require("dlg").setup({ cmd = { "dlg-test", "lsp", "--stdio" } })
local shown = vim.api.nvim_get_current_buf()
local other = vim.fn.bufadd(vim.env.DLG_NVIM_FILE)
vim.fn.bufload(other)
vim.api.nvim_buf_set_option(other, "filetype", "dlg")
local f = io.open(vim.env.DLG_NVIM_OUT, "w")
f:write(vim.fn.json_encode({
  shown = shown,
  other = other,
  current_after = vim.api.nvim_get_current_buf(),
  calls = calls,
}))
f:close()
vim.cmd("qall!")
