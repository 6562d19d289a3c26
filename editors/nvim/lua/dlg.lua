-- The dlg language server in Neovim's built-in LSP client.
--
-- With editors/nvim on 'runtimepath' (see README.md), in init.lua:
--
--   require("dlg").setup()
--
-- or, to start another dlg (a checkout's bin/dlg.js, say):
--
--   require("dlg").setup({ cmd = { "node", "/path/to/dlg/bin/dlg.js", "lsp", "--stdio" } })
--
-- Every buffer of filetype `dlg` (ftdetect/ sets it for *.dlg) then gets
-- diagnostics, hover (K), go to definition, references, rename, completion,
-- formatting and the rest from `dlg lsp --stdio`: one server per project
-- root, the nearest directory up from the file with a package.json or .git.
-- Without `cmd`, the project's node_modules/.bin/dlg runs if it is there,
-- else `dlg` on PATH.
--
-- On Neovim 0.8+ this is the usual
--
--   vim.lsp.start({ name = "dlg", cmd = { "dlg", "lsp", "--stdio" }, root_dir = root })
--
-- from a FileType autocmd; Neovim 0.7 has no vim.lsp.start, so there it
-- starts one client per root with vim.lsp.start_client and attaches each
-- buffer with vim.lsp.buf_attach_client.

local M = {}

--- The nearest directory up from `file` that holds a package.json or .git, else the file's own.
local function root_dir(file)
  local dir = vim.fn.fnamemodify(file, ":p:h")
  local best = nil
  local package_json = vim.fn.findfile("package.json", dir .. ";")
  if package_json ~= "" then
    best = vim.fn.fnamemodify(package_json, ":p:h")
  end
  local roots = {}
  local git = vim.fn.finddir(".git", dir .. ";")
  if git ~= "" then
    -- :p gives a directory a trailing slash, so :h twice leaves its parent.
    table.insert(roots, vim.fn.fnamemodify(git, ":p:h:h"))
  end
  -- A worktree's or submodule's .git is a file naming the real one.
  local git_file = vim.fn.findfile(".git", dir .. ";")
  if git_file ~= "" then
    table.insert(roots, vim.fn.fnamemodify(git_file, ":p:h"))
  end
  for _, root in ipairs(roots) do
    if best == nil or #root > #best then
      best = root
    end
  end
  return best or dir
end

local function server_cmd(opts, root)
  if opts.cmd then
    return opts.cmd
  end
  local local_dlg = root .. "/node_modules/.bin/dlg"
  if vim.fn.executable(local_dlg) == 1 then
    return { local_dlg, "lsp", "--stdio" }
  end
  return { "dlg", "lsp", "--stdio" }
end

--- Neovim 0.7: one client per root, started on the first buffer under it.
local clients_by_root = {}
local function start_0_7(config, bufnr)
  local id = clients_by_root[config.root_dir]
  if id == nil or vim.lsp.get_client_by_id(id) == nil then
    id = vim.lsp.start_client(config)
    if id == nil then
      return
    end
    clients_by_root[config.root_dir] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
end

--- Start (or reuse) the dlg server for every buffer of filetype dlg.
--- opts.cmd: the server command (a list); opts.on_attach: as in vim.lsp.start.
function M.setup(opts)
  opts = opts or {}
  vim.api.nvim_create_autocmd("FileType", {
    pattern = "dlg",
    group = vim.api.nvim_create_augroup("dlg_lsp", { clear = true }),
    callback = function(args)
      local root = root_dir(vim.api.nvim_buf_get_name(args.buf))
      local config = {
        name = "dlg",
        cmd = server_cmd(opts, root),
        root_dir = root,
        on_attach = opts.on_attach,
      }
      if vim.lsp.start then
        vim.lsp.start(config, { bufnr = args.buf })
      else
        start_0_7(config, args.buf)
      end
    end,
  })
end

return M
