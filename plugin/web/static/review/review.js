// Consentry review queue: keyboard shortcuts and in-place reveal. Everything here also works
// without JavaScript (links and plain forms); this only saves moderators clicks.
(function () {
  "use strict";
  var items = Array.prototype.slice.call(document.querySelectorAll("article.item"));
  var current = 0;

  function focusItem(i) {
    if (!items.length) { return; }
    current = Math.max(0, Math.min(items.length - 1, i));
    items[current].focus();
    items[current].scrollIntoView({block: "nearest"});
  }

  // One picture at a time: a derivative item shows the upload and the protected original
  // side by side, each blurred until its own reveal.
  function revealImage(img) {
    if (!img) { return; }
    img.src = img.getAttribute("data-reveal");   // the clear preview is fetched only now
    img.classList.remove("blurred");
    img.classList.add("revealed");
    var link = img.parentNode.querySelector("a.reveal");
    if (link) { link.remove(); }
  }

  function reveal(item) {   // "v": the next still-blurred picture of this item
    revealImage(item.querySelector("img.blurred"));
  }

  document.addEventListener("click", function (ev) {
    var link = ev.target.closest("a.reveal");
    if (link) {
      ev.preventDefault();
      revealImage(link.closest("figure").querySelector("img.blurred"));
    }
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    var tag = (ev.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea") { return; }
    var item = items[current];
    switch (ev.key) {
      case "j": focusItem(current + 1); break;
      case "k": focusItem(current - 1); break;
      case "v": if (item) { reveal(item); } break;
      case "c": case "d": case "e":
        // Select the decision; Enter submits it. One key alone never decides.
        if (item) {
          var button = item.querySelector("button[data-key='" + ev.key + "']");
          if (button) { button.focus(); }
        }
        break;
      case "o":
        if (item) { var a = item.querySelector("a[data-key='o']"); if (a) { a.click(); } }
        break;
      case "/":
        var filter = document.querySelector("form.filters select, form.filters input");
        if (filter) { filter.focus(); }
        break;
      default: return;
    }
    ev.preventDefault();
  });

  items.forEach(function (item, i) {
    item.addEventListener("focusin", function () { current = i; });
  });
  if (items.length && !location.hash) { focusItem(0); }
}());
