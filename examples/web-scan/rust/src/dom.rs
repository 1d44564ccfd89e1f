//! A minimal arena DOM for html5ever's tree builder: just enough tree to walk the parsed
//! document in order, with element names, attributes and text. It avoids a full DOM crate
//! (and a CSS selector engine) that `html.signals` would not use.

use html5ever::interface::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::tree_builder::TreeBuilderOpts;
use html5ever::{local_name, ns, parse_document, Attribute, ParseOpts, QualName};
use std::borrow::Cow;
use std::cell::{Ref, RefCell};

/// Largest piece of a page handed to html5ever at once ([`Document::parse`]).
pub const PARSE_CHUNK: usize = 64 << 10;

/// Index of a node in [`Document::nodes`].
pub type NodeId = usize;

/// What a node is; comments, doctypes and processing instructions are all `Other`.
#[derive(Debug)]
pub enum NodeKind {
    Document,
    Element { attrs: Vec<Attribute> },
    /// A `<template>`'s contents, kept as the template's first child (as jsoup keeps them).
    TemplateContents,
    Text(StrTendril),
    Other,
}

#[derive(Debug)]
pub struct Node {
    pub parent: Option<NodeId>,
    pub children: Vec<NodeId>,
    /// The element's name; an empty name in no namespace for other nodes.
    pub name: QualName,
    pub kind: NodeKind,
}

impl Node {
    fn new(name: QualName, kind: NodeKind) -> Self {
        Self { parent: None, children: Vec::new(), name, kind }
    }

    /// The value of attribute `name` (no namespace) of an element.
    pub fn attr(&self, name: &str) -> Option<&str> {
        match &self.kind {
            NodeKind::Element { attrs } => attrs
                .iter()
                .find(|a| a.name.ns == ns!() && &*a.name.local == name)
                .map(|a| &*a.value),
            _ => None,
        }
    }

    /// Whether this is an element in the HTML namespace with the given local name.
    pub fn is_html(&self, local: &str) -> bool {
        matches!(self.kind, NodeKind::Element { .. }) && self.name.ns == ns!(html) && &*self.name.local == local
    }
}

/// A parsed document: node 0 is the document node.
#[derive(Debug)]
pub struct Document {
    pub nodes: Vec<Node>,
}

impl Document {
    pub const ROOT: NodeId = 0;

    /// Parses `html` as a whole document, as a browser with scripting disabled would
    /// (`<noscript>` content becomes elements, as in jsoup).
    ///
    /// html5ever takes its input as owned tendrils: `html` is fed in pieces of at most
    /// [`PARSE_CHUNK`] bytes (cut on character boundaries), so a large page is never copied
    /// whole; each piece is read from where the page lies (a payload region) while it is hot.
    pub fn parse(html: &str) -> Self {
        let opts = ParseOpts {
            tree_builder: TreeBuilderOpts { scripting_enabled: false, ..Default::default() },
            ..Default::default()
        };
        let mut parser = parse_document(Sink::default(), opts);
        let mut rest = html;
        while !rest.is_empty() {
            let mut end = rest.len().min(PARSE_CHUNK);
            while !rest.is_char_boundary(end) {
                end -= 1;
            }
            let (piece, after) = rest.split_at(end);
            parser.process(StrTendril::from_slice(piece));
            rest = after;
        }
        parser.finish()
    }

    /// Every node reachable from the document, in document (pre-)order.
    pub fn descendants(&self) -> Descendants<'_> {
        Descendants { document: self, stack: vec![Self::ROOT] }
    }

    /// Concatenated text of the descendants of `id`.
    pub fn text(&self, id: NodeId) -> String {
        let mut text = String::new();
        let mut stack = vec![id];
        while let Some(at) = stack.pop() {
            let node = &self.nodes[at];
            if let NodeKind::Text(t) = &node.kind {
                text.push_str(t);
            }
            stack.extend(node.children.iter().rev());
        }
        text
    }
}

/// Pre-order walk over a [`Document`].
pub struct Descendants<'a> {
    document: &'a Document,
    stack: Vec<NodeId>,
}

impl<'a> Iterator for Descendants<'a> {
    type Item = (NodeId, &'a Node);

    fn next(&mut self) -> Option<Self::Item> {
        let id = self.stack.pop()?;
        let node = &self.document.nodes[id];
        self.stack.extend(node.children.iter().rev());
        Some((id, node))
    }
}

/// The tree builder's view of the arena. Handles are indices, so they stay valid however
/// the tree is rearranged.
struct Sink {
    nodes: RefCell<Vec<Node>>,
}

impl Default for Sink {
    fn default() -> Self {
        Self { nodes: RefCell::new(vec![Node::new(empty_name(), NodeKind::Document)]) }
    }
}

fn empty_name() -> QualName {
    QualName::new(None, ns!(), local_name!(""))
}

impl Sink {
    fn add(&self, node: Node) -> NodeId {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(node);
        nodes.len() - 1
    }

    fn detach(nodes: &mut [Node], child: NodeId) {
        if let Some(parent) = nodes[child].parent.take() {
            nodes[parent].children.retain(|&c| c != child);
        }
    }

    /// Appends text to the node at `parent.children[at - 1]` if it is text, else inserts a
    /// new text node at `at`.
    fn insert_text(nodes: &mut Vec<Node>, parent: NodeId, at: usize, text: StrTendril) {
        if at > 0 {
            let previous = nodes[parent].children[at - 1];
            if let NodeKind::Text(existing) = &mut nodes[previous].kind {
                existing.push_tendril(&text);
                return;
            }
        }
        let mut node = Node::new(empty_name(), NodeKind::Text(text));
        node.parent = Some(parent);
        nodes.push(node);
        let id = nodes.len() - 1;
        nodes[parent].children.insert(at, id);
    }

    fn insert(nodes: &mut Vec<Node>, parent: NodeId, at: usize, child: NodeOrText<NodeId>) {
        match child {
            NodeOrText::AppendNode(id) => {
                Self::detach(nodes, id);
                // Detaching may have shifted `at` if the child was an earlier sibling.
                let at = at.min(nodes[parent].children.len());
                nodes[id].parent = Some(parent);
                nodes[parent].children.insert(at, id);
            }
            NodeOrText::AppendText(text) => Self::insert_text(nodes, parent, at, text),
        }
    }
}

impl TreeSink for Sink {
    type Handle = NodeId;
    type Output = Document;
    type ElemName<'a> = Ref<'a, QualName>;

    fn finish(self) -> Document {
        Document { nodes: self.nodes.into_inner() }
    }

    fn parse_error(&self, _msg: Cow<'static, str>) {}

    fn get_document(&self) -> NodeId {
        Document::ROOT
    }

    fn elem_name<'a>(&'a self, target: &'a NodeId) -> Ref<'a, QualName> {
        Ref::map(self.nodes.borrow(), |nodes| &nodes[*target].name)
    }

    fn create_element(&self, name: QualName, attrs: Vec<Attribute>, flags: ElementFlags) -> NodeId {
        let element = self.add(Node::new(name, NodeKind::Element { attrs }));
        if flags.template {
            let contents = self.add(Node::new(empty_name(), NodeKind::TemplateContents));
            let mut nodes = self.nodes.borrow_mut();
            nodes[contents].parent = Some(element);
            nodes[element].children.push(contents);
        }
        element
    }

    fn create_comment(&self, _text: StrTendril) -> NodeId {
        self.add(Node::new(empty_name(), NodeKind::Other))
    }

    fn create_pi(&self, _target: StrTendril, _data: StrTendril) -> NodeId {
        self.add(Node::new(empty_name(), NodeKind::Other))
    }

    fn append(&self, parent: &NodeId, child: NodeOrText<NodeId>) {
        let mut nodes = self.nodes.borrow_mut();
        let at = nodes[*parent].children.len();
        Self::insert(&mut nodes, *parent, at, child);
    }

    fn append_based_on_parent_node(&self, element: &NodeId, prev_element: &NodeId, child: NodeOrText<NodeId>) {
        let has_parent = self.nodes.borrow()[*element].parent.is_some();
        if has_parent {
            self.append_before_sibling(element, child);
        } else {
            self.append(prev_element, child);
        }
    }

    fn append_doctype_to_document(&self, _name: StrTendril, _public_id: StrTendril, _system_id: StrTendril) {
        let doctype = self.add(Node::new(empty_name(), NodeKind::Other));
        self.append(&Document::ROOT, NodeOrText::AppendNode(doctype));
    }

    fn get_template_contents(&self, target: &NodeId) -> NodeId {
        // create_element gave every template its contents node as first child; a template
        // without one cannot happen, and then the template itself is the safest answer.
        let nodes = self.nodes.borrow();
        nodes[*target]
            .children
            .iter()
            .copied()
            .find(|&c| matches!(nodes[c].kind, NodeKind::TemplateContents))
            .unwrap_or(*target)
    }

    fn same_node(&self, x: &NodeId, y: &NodeId) -> bool {
        x == y
    }

    fn set_quirks_mode(&self, _mode: QuirksMode) {}

    fn append_before_sibling(&self, sibling: &NodeId, new_node: NodeOrText<NodeId>) {
        let mut nodes = self.nodes.borrow_mut();
        if let NodeOrText::AppendNode(id) = &new_node {
            Self::detach(&mut nodes, *id);
        }
        let Some(parent) = nodes[*sibling].parent else { return };
        let Some(at) = nodes[parent].children.iter().position(|&c| c == *sibling) else { return };
        Self::insert(&mut nodes, parent, at, new_node);
    }

    fn add_attrs_if_missing(&self, target: &NodeId, attrs: Vec<Attribute>) {
        let mut nodes = self.nodes.borrow_mut();
        if let NodeKind::Element { attrs: existing } = &mut nodes[*target].kind {
            for attr in attrs {
                if !existing.iter().any(|a| a.name == attr.name) {
                    existing.push(attr);
                }
            }
        }
    }

    fn remove_from_parent(&self, target: &NodeId) {
        Self::detach(&mut self.nodes.borrow_mut(), *target);
    }

    fn reparent_children(&self, node: &NodeId, new_parent: &NodeId) {
        let mut nodes = self.nodes.borrow_mut();
        let children = std::mem::take(&mut nodes[*node].children);
        for &child in &children {
            nodes[child].parent = Some(*new_parent);
        }
        nodes[*new_parent].children.extend(children);
    }
}
